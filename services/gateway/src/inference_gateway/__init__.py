"""Data plane: OpenAI, vLLM, Ollama, TGI and Anthropic APIs, routed by model name."""
