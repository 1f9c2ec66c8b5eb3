"""Download service: imports models from the quantization cluster."""
