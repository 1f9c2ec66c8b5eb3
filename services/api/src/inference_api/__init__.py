"""Control-plane REST API: auth, users, API keys, model registry, serve / stop / status."""
