"""pytest fixtures for the platform's tests, registered as a pytest plugin (`pytest11`)."""
