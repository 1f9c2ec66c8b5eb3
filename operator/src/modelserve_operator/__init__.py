"""kopf operator: ModelServe resources become llama.cpp Deployments, Services, routes."""
