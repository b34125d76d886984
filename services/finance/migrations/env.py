from services.finance.models import metadata
from shared.alembic_env import run_migrations

run_migrations(metadata)
