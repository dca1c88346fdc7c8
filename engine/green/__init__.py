"""The green-manufacturing domain (绿色制造): roles, jurisdictions, and later
units, designations, agencies and awards. The workflow plumbing in `engine`
does not import from here; the app wires the two together."""
