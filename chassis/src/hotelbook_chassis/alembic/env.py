# Alembic environment shared by every service; revisions live in each service's
# own ``<package>/migrations/versions`` folder.
from hotelbook_chassis.migrations import run_env

run_env()
