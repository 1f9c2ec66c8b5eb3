"""What the platform's services share: settings, database, errors, logging, Kubernetes, S3."""
