"""Who acts under the Gansu rules (角色) and where (辖区)."""
from __future__ import annotations

# code: (Chinese, English). Lane names in a diagram may use any of the three.
ROLES: dict[str, tuple[str, str]] = {
    "applicant": ("申报单位", "Applicant (enterprise or park)"),
    "agency": ("第三方评价机构", "Third-party evaluation agency"),
    "municipal": ("市级工业和信息化主管部门", "Municipal industry authority"),
    "provincial": ("省工业和信息化厅", "Provincial department"),
    "expert": ("评审专家", "Expert reviewer"),
    "ecology": ("省生态环境厅", "Provincial ecology and environment department"),
    "emergency": ("省应急管理厅", "Provincial emergency management department"),
    "market": ("省市场监督管理局", "Provincial market regulation administration"),
    "analyst": ("流程分析员", "Process analyst"),
    "admin": ("系统管理员", "Administrator"),
}

# Roles whose users belong to one city and see only that city's cases.
MUNICIPAL_ROLES = frozenset({"municipal"})
# Roles that oversee every city's cases.
PROVINCE_WIDE_ROLES = frozenset({"provincial", "analyst"})
# Roles that act for one organisation: their tasks go to the case's own party.
PARTY_ROLES = frozenset({"applicant", "agency"})
# Roles whose tasks go to the one person the province named: an expert reviews the candidates
# assigned to them, and may not pass the review to another expert (Art 15).
PERSONAL_ROLES = frozenset({"expert"})

# 14 prefectures of Gansu plus Lanzhou New Area (DOMAIN-NOTES.md).
JURISDICTIONS: dict[str, tuple[str, str]] = {
    "620100": ("兰州市", "Lanzhou"),
    "620200": ("嘉峪关市", "Jiayuguan"),
    "620300": ("金昌市", "Jinchang"),
    "620400": ("白银市", "Baiyin"),
    "620500": ("天水市", "Tianshui"),
    "620600": ("武威市", "Wuwei"),
    "620700": ("张掖市", "Zhangye"),
    "620800": ("平凉市", "Pingliang"),
    "620900": ("酒泉市", "Jiuquan"),
    "621000": ("庆阳市", "Qingyang"),
    "621100": ("定西市", "Dingxi"),
    "621200": ("陇南市", "Longnan"),
    "622900": ("临夏回族自治州", "Linxia"),
    "623000": ("甘南藏族自治州", "Gannan"),
    "620171": ("兰州新区", "Lanzhou New Area"),
}

_LANE_INDEX = {
    label.strip().lower(): code
    for code, names in ROLES.items()
    for label in (code, *names)
}


def role_for_lane(lane: str | None) -> str | None:
    """The role a lane stands for, or None when the lane names no known role."""
    if not lane:
        return None
    return _LANE_INDEX.get(lane.strip().lower())
