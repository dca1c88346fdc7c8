"""Which unit types reach the national level (国家级). Art 2: green factories have
three levels; parks and supply-chain enterprises are recommended by the province
to MIIT; industrial water-saving enterprises and parks are linked province-city
only, so they have no national level in these rules."""
from __future__ import annotations

NATIONAL_UNIT_TYPES = ("green_factory", "green_park", "green_supply_chain")
