"""Demo cases for evaluations and agencies (评价与第三方评价机构): agencies, two of them
sharing a legal representative and one named for fraud, and reports at different stages.
The named agency was named some months before the day the demo is seeded, so its
three years of refused results (Art 23) are running on whatever day that is."""
from __future__ import annotations

from datetime import date

from flask import current_app

from engine import clock, statutory_calendar
from engine.db import db, writing
from engine.green import attachments
from engine.green.agencies import Agency
from engine.green.exclusions import add_months
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor

# A one-page PDF: what the report upload checks is its content's signature and size.
DEMO_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
AGENCIES = [  # name, credit code, legal representative, city, account, named for fraud how many months ago
    ("甘肃绿评科技有限公司", "91620100MA71GLP0EL", "王建国", "620100", "agency-gsgreen", None),
    ("兰州环科评价咨询有限公司", "91620100MA72HKYX3B", "王建国", "620100", "agency-lzhk", None),
    ("天水节能评估中心有限公司", "91620500MA73JNPG1L", "李明", "620500", None, 9),
]
REFUSED_YEARS = 3  # Art 23 ¶1: a named agency's results are not accepted for three years
FACTORY_VALUES = {"gf_energy_per_product": 94, "gf_renewable_share": 26, "gf_carbon_per_product": 1.5,
                  "gf_water_per_product": 3.2, "gf_water_reuse_rate": 96, "gf_solid_waste_use": 93,
                  "gf_pollutant_per_product": 0.55, "gf_hazardous_waste_compliance": 100,
                  "gf_green_product_share": 45, "gf_output_per_land": 14000}


def _task(case_id: int) -> HumanTask:
    return db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case_id))


def _pdf(case_id: int, by: str) -> int:
    checked = attachments.check([("评价报告.pdf", DEMO_PDF)])
    with writing():
        [row] = attachments.store(current_app.config["UPLOAD_DIR"], case_id, checked, by=by)
    return row.id


def factory_evaluation(case_id: int, by: str) -> dict:
    """A green factory's evaluation form, filled as a demo applicant or agency would."""
    basic = ["gf_lawful_no_accident", "gf_management_systems", "gf_energy_metering", "gf_emission_standards",
             "gf_no_obsolete_equipment"]
    return {"basic_requirements": [{"requirement": c, "met": True} for c in basic],
            "indicators": [{"indicator": c, "value": v} for c, v in FACTORY_VALUES.items()],
            "highlights": "光伏发电覆盖厂区屋顶，余热回收用于冬季供暖。", "report_pdf": _pdf(case_id, by), "pledge": True}


def apply_and_self_evaluate(runtime, case, actor: Actor, application: dict):
    """The core demo's submitted cases: the application, then the applicant's own evaluation."""
    runtime.complete(_task(case.id).id, {**application, "evaluation_mode": "self"}, actor)
    return runtime.complete(_task(case.id).id, factory_evaluation(case.id, actor.name), actor)


def months_ago(months: int) -> date:
    return add_months(clock.now().date(), -months)


def refused_until(named: date) -> date:
    """The first day a named agency's results count again, as `evaluation.name_agency` sets it."""
    return statutory_calendar.annual_date(named.year + REFUSED_YEARS, named.month, named.day)


def seed(runtime) -> None:
    with writing():
        for name, code, rep, city, account, named_months_ago in AGENCIES:
            if db.session.scalar(db.select(Agency).where(Agency.credit_code == code)) is None:
                named = months_ago(named_months_ago) if named_months_ago else None
                db.session.add(Agency(name=name, credit_code=code, legal_representative=rep, jurisdiction=city,
                                      account=account, named_for_fraud_on=named, created_at=clock.now(),
                                      results_refused_until=refused_until(named) if named else None,
                                      named_reason="出具的绿色工厂评价报告能耗数据与企业台账严重不符。" if named else None))
    _supervision(runtime)
    started = db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance).where(
        ProcessInstance.process_id == "municipal_creation", ProcessInstance.data["evaluation_mode"].as_string()
        == "third_party"))
    if started:
        return
    firm = Actor("tianshui-electric", "applicant")
    # the account applies as the organisation it registered (its name and credit code are known)
    application = {"organisation_name": "天水电气传动研究所", "unit_type": "green_factory",
                   "credit_code": "91620502MA74TKDC2J", "evaluation_mode": "third_party",
                   "agency_credit_code": "91620100MA71GLP0EL"}
    # with the agency: waiting for 甘肃绿评's evaluation
    case = runtime.start("municipal_creation", {}, firm, "620500")
    runtime.complete(_task(case.id).id, application, firm)
    # evaluated by the other agency of the same legal representative: waiting for 天水's review
    case = runtime.start("municipal_creation", {}, firm, "620500")
    runtime.complete(_task(case.id).id, {**application, "agency_credit_code": "91620100MA72HKYX3B"}, firm)
    runtime.complete(_task(case.id).id, factory_evaluation(case.id, "agency-lzhk"), Actor("agency-lzhk", "agency"))
    # the named agency chosen: back to the applicant with the reason
    case = runtime.start("municipal_creation", {}, firm, "620500")
    runtime.complete(_task(case.id).id, {**application, "agency_credit_code": "91620500MA73JNPG1L"}, firm)


def _supervision(runtime) -> None:
    """A city's report on an agency, waiting for the province's verification."""
    if db.session.scalar(db.select(ProcessInstance).where(ProcessInstance.process_id == "agency_supervision")):
        return
    city = Actor("lanzhou", "municipal", "620100")
    case = runtime.start("agency_supervision", {}, city)
    runtime.complete(_task(case.id).id, {
        "agency_credit_code": "91620100MA72HKYX3B",
        "facts": "抽查兰州环科出具的两份绿色工厂评价报告，单位产品综合能耗与企业能源台账相差 20% 以上。",
        "evidence": _pdf(case.id, "lanzhou")}, city)
