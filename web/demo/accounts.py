"""The demo's accounts (演示账号), one per role and one official per city: the seeders
name who acts from here."""
from __future__ import annotations

from engine.green.roles import JURISDICTIONS

# Known tokens and one password so a newcomer can sign in and call the API at once;
# never used outside the demo database.
DEMO_PASSWORD = "green-ladder"
DEMO_USERS = [
    ("admin", "admin", None, "系统管理员"),
    ("analyst", "analyst", None, "流程分析员 李工"),
    ("provincial", "provincial", None, "省工信厅节能处 张处长"),
    ("expert", "expert", None, "评审专家 赵教授"),
    ("expert-qian", "expert", None, "评审专家 钱研究员"),
    ("expert-sun", "expert", None, "评审专家 孙高工"),
    ("expert-zhou", "expert", None, "评审专家 周教授"),
    ("ecology", "ecology", None, "省生态环境厅 孙处长"),
    ("emergency", "emergency", None, "省应急管理厅 周处长"),
    ("market", "market", None, "省市场监管局 吴处长"),
    ("lanzhou", "municipal", "620100", "兰州市工信局 王科长"),
    ("lanzhou2", "municipal", "620100", "兰州市工信局 刘科员"),
    ("tianshui", "municipal", "620500", "天水市工信局 陈科长"),
    # one official for each of the other cities, named by the city's pinyin
    *((names[1].lower().replace(" ", "-"), "municipal", code,
       f"{names[0]}{'经发局' if code == '620171' else '工信局'}")  # Lanzhou New Area's authority is its 经发局
      for code, names in JURISDICTIONS.items() if code not in ("620100", "620500")),
    ("jinchuan-group", "applicant", None, "金川集团股份有限公司"),
    ("tianshui-electric", "applicant", None, "天水电气传动研究所"),
    ("agency-gsgreen", "agency", None, "甘肃绿评科技有限公司"),
    ("agency-lzhk", "agency", None, "兰州环科评价咨询有限公司"),
]

# The demo's enterprises and agencies register themselves as any would (单位注册), and
# their city confirms them: account -> (registered as, name, credit code, legal
# representative, registered address, its division code, contact person, mobile).
DEMO_REGISTRATIONS = {
    "jinchuan-group": ("applicant", "金川集团股份有限公司", "91620000224330075D", "王永清",
                       "甘肃省兰州市城关区东岗西路 118 号", "620102", "李红梅", "13919000001"),
    "tianshui-electric": ("applicant", "天水电气传动研究所", "91620502MA74TKDC2J", "赵建华",
                          "甘肃省天水市秦州区岷山路 60 号", "620502", "周立新", "13993800002"),
    "agency-gsgreen": ("agency", "甘肃绿评科技有限公司", "91620100MA71GLP0EL", "王建国",
                       "甘肃省兰州市城关区南昌路 1688 号", "620102", "马晓燕", "13893100003"),
    "agency-lzhk": ("agency", "兰州环科评价咨询有限公司", "91620100MA72HKYX3B", "王建国",
                    "甘肃省兰州市七里河区西津东路 575 号", "620103", "杨光", "18919100004"),
}
# which demo official confirms each city's registrations
CONFIRMED_BY = {"620100": "lanzhou", "620500": "tianshui"}
