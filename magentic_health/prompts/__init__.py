"""Versioned prompt templates of the language-model planner (see planners/_llm_prompts.py)."""
