"""Demo cases for spot checks and revocations (抽查与撤销演示): a provincial
unit in rectification after a failed spot check, a revocation announced at
once (a major accident), and one waiting for the year's publication.

The units were listed by last year's provincial list; this year's spot-check
batch and the province's decisions carry this year, the year the demo is seeded."""
from __future__ import annotations

from engine import clock
from engine.db import db
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor

from . import listing

PROVINCE = Actor("provincial", "provincial")
UNITS = {  # key: (account, city, credit code, name, unit type)
    "in_rectification": ("jinchuan-group", "620100", "91620000224330075D", "金川集团股份有限公司", "green_factory"),
    "announced": ("tianshui-electric", "620500", "91620500MA73T8001A", "天水电气传动研究所", "water_saving_enterprise"),
    "awaiting_publication": ("jinchuan-group", "620100", "91620100MA72XC002A", "兰州新材料科技有限公司",
                             "green_supply_chain"),
}


def _designate(runtime, key) -> int:
    account, city, code, name, unit_type = UNITS[key]
    return listing.list_provincial(runtime, Actor(account, "applicant"), city, code, name, unit_type,
                                        f"{document_no(clock.now().year - 1, 30)} 省级绿色制造名单")


def document_no(year: int, serial: int) -> str:
    """A document number of the province's industry department (甘工信发〔年〕号)."""
    return f"甘工信发〔{year}〕{serial}号"


def _complete(runtime, case_id, data, actor):
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case_id))
    return runtime.complete(task, data, actor)


def seed(runtime) -> None:
    done = db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance).where(
        ProcessInstance.process_id.in_(("spot_check", "revocation"))))
    if done:
        return
    listing.deploy(runtime)
    year = clock.now().year

    # a failed spot check: 金川集团 now has the rectification order, with its 90-day deadline, in its inbox
    check = runtime.start("spot_check", {"designation_id": _designate(runtime, "in_rectification"),
                                         "batch": f"{year}年省级绿色制造单位第一批抽查"}, PROVINCE, "620100")
    _complete(runtime, check.id, {"spot_check_passed": False,
                                  "spot_check_findings": "单位产品综合能耗高于行业基准值，能源管理体系未有效运行。"}, PROVINCE)

    # a Level II environmental incident: revoked and announced at once
    tianshui = Actor("tianshui", "municipal", "620500")
    case = runtime.start("revocation", {"designation_id": _designate(runtime, "announced"), "ground": "major_incident",
                                        "facts": "发生Ⅱ级（重大）突发环境污染事件。"}, tianshui, "620500")
    _complete(runtime, case.id, {"propose": True, "facts": f"{year}年发生Ⅱ级（重大）突发环境污染事件，已实时上报省工信厅。",
                                 "evidence": "天水市生态环境局事件认定书"}, tianshui)
    _complete(runtime, case.id, {"revoke": True, "opinion": "依第二十一条第二款即时取消资格并公告。"}, PROVINCE)

    # false data: revoked, announced with the year's publication
    lanzhou = Actor("lanzhou", "municipal", "620100")
    case = runtime.start("revocation", {"designation_id": _designate(runtime, "awaiting_publication"),
                                        "ground": "false_materials", "facts": "动态管理表能耗数据与计量不符。"},
                         lanzhou, "620100")
    _complete(runtime, case.id, {"propose": True, "facts": "动态管理表所报能耗数据与供电计量严重不符，系虚报。",
                                 "evidence": "国网兰州供电公司计量记录"}, lanzhou)
    _complete(runtime, case.id, {"revoke": True, "opinion": "同意取消资格，随年度公布公告。"}, PROVINCE)
