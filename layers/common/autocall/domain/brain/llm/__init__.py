"""The LLM brain: the brain (``brain``), what the model is told (``prompt``) and the tools it may
call (``tools``). OpenAI itself is reached through ``autocall.integrations.openai``."""
