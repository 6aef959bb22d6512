"""The conversation brain: one interface, a playbook and an LLM implementation."""
