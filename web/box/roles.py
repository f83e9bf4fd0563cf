"""Who may open the hall manager's pages: the roles each view names in ``login_required``."""

READERS = ("manager", "supervisor", "auditor")
TECHNICIANS = ("technician",)
