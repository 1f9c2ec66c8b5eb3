"""Data access over one AsyncSession. Repositories flush but never commit: the request's
unit of work (`inference_common.db.unit_of_work`) does."""
