"""Demo cases of cultivation (Arts 6-11) and adverse facts (Art 18) for `make run`:
candidates in this year's pools of 兰州, 天水 and 酒泉 at different stages, a park
with its firms, a candidate sent back for a barring fact, and facts recorded by a
city and the province. Seeded once: nothing is added when a cultivation case exists.

Every date and year is counted from the day the demo is seeded, so on whatever day the
facts lie in the past, the barring one inside Art 18's three-year look-back, the pools
are that year's and the plans' target years lie ahead."""
from __future__ import annotations

from datetime import date

from engine import clock
from engine.db import db
from engine.green.credit_code import check_character
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor

PROVINCE = Actor("provincial", "provincial")
CITIES = {"620100": Actor("lanzhou", "municipal", "620100"), "620500": Actor("tianshui", "municipal", "620500"),
          "620900": Actor("jiuquan", "municipal", "620900")}
CONDITIONS = {
    "green_factory": {"independent_legal_person": True, "manufacturing": True, "meets_standard": True},
    "green_park": {"legal_boundary": True, "management_body": True, "mainly_manufacturing_energy": True,
                   "industrial_value_share": 71.4, "park_cultivation_plan": True,
                   "organises_green_factory_creation": True, "meets_standard": True},
    "green_supply_chain": {"independent_legal_person": True, "industry_leader": True, "creating_green_factory": True,
                           "supplier_cultivation_plan": True, "meets_standard": True},
    "water_saving_enterprise": {"independent_legal_person": True, "manufacturing": True, "meets_standard": True},
    "water_saving_park": {"legal_boundary": True, "management_body": True, "meets_standard": True},
}
PLANS = {  # goals ({target}: the target year), measures, years from the pool's year to the target, standard
    "green_factory": ("{target}年前建成能源管理中心，单位产品综合能耗降至行业标杆水平", "空压站和电机系统节能改造；屋顶分布式光伏；危废减量",
                      1, "GB/T 36132 绿色工厂评价通则"),
    "green_park": ("园区可再生能源使用比例提高到20%，培育5家绿色工厂", "集中供热和中水回用管网；组织园区企业开展绿色工厂自评价",
                   2, "附件2 绿色工业园区评价要求"),
    "green_supply_chain": ("带动30家核心供应商完成绿色工厂自评价", "供应商绿色准入；绿色采购目录；回收体系建设",
                           2, "附件3 绿色供应链管理企业评价要求"),
    "water_saving_enterprise": ("重复利用率达到97%以上，漏损率低于8%", "冷却水循环改造；分级计量（GB 24789）；雨水收集",
                                1, "附件4 工业节水型企业评价要求"),
    "water_saving_park": ("万元工业增加值取水量下降15%", "再生水厂扩建；企业间水梯级利用；智慧水务平台", 2,
                          "附件5 工业节水型园区评价要求"),
}


def code(n: int, city: str) -> str:
    first17 = f"91{city}MA{n:07d}"
    return first17 + check_character(first17)


def _task(case_id):
    return db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case_id))


def _nominate(runtime, city, unit_type, n, name, members=()):
    actor = CITIES[city]
    case = runtime.start("cultivation", {}, actor)
    # the pool's year (入库年度) is the year the city nominates in
    data = {"nomination_decision": "nominate", "organisation_name": name, "credit_code": code(n, city),
            "unit_type": unit_type, "year": clock.now().year, **CONDITIONS[unit_type],
            "members": [{"credit_code": code(m, city), "name": firm} for m, firm in members]}
    runtime.complete(_task(case.id).id, data, actor)
    return case.id


def _plan(runtime, city, case_id, unit_type):
    goals, measures, years_ahead, standard = PLANS[unit_type]
    target_year = clock.now().year + years_ahead
    runtime.complete(_task(case_id).id, {"plan_action": "file", "goals": goals.format(target=target_year),
                                         "measures": measures, "target_year": target_year, "standard": standard},
                     CITIES[city])


def _fact(runtime, actor, city, n, name, kind, occurred_on, source, reference, ended_on=None):
    case = runtime.start("adverse_fact", {}, actor)
    data = {"organisation_name": name, "credit_code": code(n, city), "kind": kind, "occurred_on": occurred_on,
            "source": source, "reference": reference}
    if ended_on:
        data["ended_on"] = ended_on
    runtime.complete(_task(case.id).id, data, actor)


def _facts(runtime) -> None:
    """A tax evasion last year (inside the look-back, so it bars), an abnormal operation
    listing still open since the year before, and a dishonest-debtor listing ended."""
    year = clock.now().year
    tax_evasion, abnormal = date(year - 1, 4, 18), date(year - 2, 11, 5)
    debtor_listed, debtor_removed = date(year - 3, 6, 20), date(year - 2, 2, 1)
    _fact(runtime, CITIES["620100"], "620100", 31, "兰州恒运化工有限公司", "tax_evasion", tax_evasion.isoformat(),
          "credit_china", f"甘税稽罚〔{tax_evasion.year}〕12号")
    _fact(runtime, PROVINCE, "620100", 22, "兰州新材料科技有限公司", "abnormal_operation", abnormal.isoformat(), "gsxt",
          f"经营异常名录 {abnormal:%Y-%m%d}")
    _fact(runtime, CITIES["620500"], "620500", 41, "天水长城铸造有限公司", "dishonest_debtor", debtor_listed.isoformat(),
          "court", f"（{debtor_listed.year}）甘05执112号", ended_on=debtor_removed.isoformat())


def seed(runtime) -> None:
    if db.session.scalar(db.select(ProcessInstance.id).where(ProcessInstance.process_id == "cultivation").limit(1)):
        return
    _facts(runtime)  # first, so the nominations below meet them

    # 兰州: a factory filed; a park with its firms awaiting the province; a supply-chain leader refused
    lz_factory = _nominate(runtime, "620100", "green_factory", 1, "兰州陇原精密机械有限公司")
    _plan(runtime, "620100", lz_factory, "green_factory")
    runtime.complete(_task(lz_factory).id, {"filing_decision": "acknowledge", "remarks": "同意备案。"}, PROVINCE)
    lz_park = _nominate(runtime, "620100", "water_saving_park", 2, "兰州西固工业园区管理委员会",
                        members=[(21, "兰州西固石化配套有限公司"), (23, "兰州黄河水处理有限公司")])
    _plan(runtime, "620100", lz_park, "water_saving_park")
    _nominate(runtime, "620100", "green_supply_chain", 31, "兰州恒运化工有限公司",
              members=[(32, "兰州包装材料有限公司")])  # sent back: tax evasion last year

    # 天水: a water-saving enterprise filed; a factory at its plan
    ts_water = _nominate(runtime, "620500", "water_saving_enterprise", 1, "天水华天电子节水示范有限公司")
    _plan(runtime, "620500", ts_water, "water_saving_enterprise")
    runtime.complete(_task(ts_water).id, {"filing_decision": "acknowledge"}, PROVINCE)
    _nominate(runtime, "620500", "green_factory", 2, "天水星火机床有限责任公司")

    # 酒泉: a green park whose filing the province sent back with remarks
    jq_park = _nominate(runtime, "620900", "green_park", 1, "酒泉经济技术开发区管理委员会",
                        members=[(11, "酒泉风电装备制造有限公司"), (12, "酒泉新能源材料有限公司")])
    _plan(runtime, "620900", jq_park, "green_park")
    runtime.complete(_task(jq_park).id, {"filing_decision": "send_back",
                                         "remarks": "请补充园区工业增加值占比的统计口径和可再生能源使用比例的测算依据。"},
                     PROVINCE)
