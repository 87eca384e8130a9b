"""Tax: taxpayer register, income-tax law as dated data, returns and assessments."""

from pathlib import Path

from ...core.ports import AssessedIncome, LifeEvents
from ...core.registry import Catalogs, Manifest, Module
from . import models  # noqa: F401 - registers the tables
from .bulk import TaxAssessedIncome
from .cli import app as cli_app
from .config import TaxCountry
from .jobs import JOBS
from .life_events import TaxLifeEvents
from .roles import ROLES
from .router import router
from .scopes import COLLECT_SCOPE, DECIDE_SCOPE, FILE_SCOPE, READ_SCOPE, REGISTER_SCOPE
from .seed import seed
from .service import configuration_findings, openapi_values
from .web import pages

_HERE = Path(__file__).resolve().parent

module = Module(
    manifest=Manifest.read(_HERE),
    router=router,
    migrations=_HERE / "migrations",
    scopes=(REGISTER_SCOPE, FILE_SCOPE, READ_SCOPE, COLLECT_SCOPE, DECIDE_SCOPE),
    roles=ROLES,
    money_scopes=(COLLECT_SCOPE,),  # payments in and refunds out: a key with it needs four-eyes
    cli=cli_app,
    catalogs=Catalogs(_HERE / "locales"),
    country_schema=TaxCountry,
    provides={AssessedIncome: TaxAssessedIncome.of, LifeEvents: TaxLifeEvents},
    seed=seed,
    configuration_check=configuration_findings,
    openapi_values=openapi_values,
    pages=pages,
    jobs=JOBS,
)
