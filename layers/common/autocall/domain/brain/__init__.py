"""The conversation brain: one interface, a playbook and an LLM implementation.

- ``contract``: the Brain protocol and the values it is given and returns;
- ``memory``: what a call remembers between turns (both brains keep it);
- ``nlu``: understanding only - intents, keywords, sentiment, times;
- ``purposes`` (the per-purpose playbooks, data) and ``engine`` (the rules engine that plays them);
- ``booking``: which slots and callback times may be booked and which slot to offer;
- ``lines``: what the callee hears, filled in from the call;
- ``llm``: the LLM brain, its prompt and its tools; ``prompt_data``: the model's data block;
- ``factory``: which brain runs the calls.
"""
