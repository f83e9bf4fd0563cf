"""用户管理 at the hub: the shared pages (web/users.py), with each user's scope.

City administrators add users with a role and a scope (hub/users.py checks that they fit),
reset passwords, disable and enable accounts; the list shows each user's scope.
"""

from __future__ import annotations

from standard.districts import DISTRICTS
from web.users import ExtraField, UserAdmin


def hub_user_admin(dashboard) -> UserAdmin:
    """What the hub adds to the shared pages: the scope field and column, city-only admins."""
    users = dashboard.users

    def add(form, actor: str) -> str:
        return users.add(form.get("username", ""), form.get("role", ""), form.get("scope", ""),
                         display_name=form.get("display_name", ""),
                         is_admin=form.get("is_admin") == "1", actor=actor,
                         known_depts=dashboard.data.dept_code_names())

    def shown() -> dict[str, str]:
        return {name: DISTRICTS.get(text, text) or "全市" for name, text in users.scopes().items()}

    scope = ExtraField(
        "scope", "范围（区代码或部门代码）", "范围", placeholder="市监察局留空",
        hint="区监察室：范围填区代码（如 440605 南海区，440600 市本级）；市直部门：填部门代码（如 SCJ，"
             "多个用逗号分隔），可查看该部门在各区的办件；区审批部门：填带区代码的部门代码（如 "
             "440605SCJ），只看该区的该部门。部门须在事项目录中。",
        choices=lambda: {**DISTRICTS, **dashboard.data.dept_names()}, shown=shown)
    return UserAdmin(add=add, fields=(scope,), admin_label="可管理用户（仅市监察局）")
