"""flask --app service init | demo | clock."""
import click
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import select

from .auth import check_password_policy, hash_password
from .database import transaction
from .errors import ApiError
from .extensions import db
from .models import RoleGrant, User


def register_cli(app) -> None:
    """Attach the project's commands to `flask`."""
    app.cli.add_command(init_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(clock_command)


@click.command("init")
@click.option("--admin-password", required=True, help="Password for the platform admin 'admin'.")
@with_appcontext
def init_command(admin_password: str) -> None:
    """Create or upgrade the schema, deploy bundled BPMN, create 'admin'. Idempotent."""
    from .services.definitions import deploy_bundled
    try:
        check_password_policy(admin_password)
    except ApiError as error:
        raise click.BadParameter(error.detail, param_hint="--admin-password") from None
    _ensure_instance_dir()
    upgrade()
    with transaction():
        deployed = deploy_bundled()
        if db.session.scalars(select(User).where(User.username == "admin")).first() is None:
            admin = User(username="admin", password_hash=hash_password(admin_password),
                         must_change_password=False, failed_logins=0)
            admin.grants = [RoleGrant(role="platform_admin", org_id=None)]
            db.session.add(admin)
    click.echo(f"schema ready; {len(deployed)} bundled process(es): "
               + ", ".join(f"{d.key} v{d.version}" for d in deployed))


def _ensure_instance_dir() -> None:
    from .config import INSTANCE_DIR
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load the demo organisation tree and its users (see README)."""
    from .demo import load_demo
    with transaction():
        logins = load_demo()
    click.echo("Demo logins (username / password / what they do):")
    for username, password, what in logins:
        click.echo(f"  {username:<12} {password:<12} {what}")


@click.command("clock")
@with_appcontext
def clock_command() -> None:
    """Run the scheduler (Procfile `clock`): due timers and overdue marks."""
    from .scheduler import run_clock
    run_clock()
