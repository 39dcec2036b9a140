"""The admin API: LiteLLM's /key, /team and /user management routes and its spend
queries (/spend/logs, /spend/tags, /global/spend/report), master key only.

Every change is written with its audit record in one DynamoDB transaction
(gateway.store.entities, gateway.store.audit).
"""

from __future__ import annotations

from gateway.http.admin import keys, revocation, spend, teams, users

routes = [*keys.routes, *revocation.routes, *teams.routes, *users.routes, *spend.routes]
