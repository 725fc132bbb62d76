"""``nuri token``: list and revoke API tokens (your own; an admin's, anyone's).

Issuing one is ``nuri admin token USER [--expires-in-days N]``, which a user may run for
themselves too. Listings never show a token or its digest, only its id, label and dates.
"""

from typing import Annotated, Any

import typer

from nuri.cli.client import ApiClient, client_for
from nuri.cli.render import print_json, print_table

app = typer.Typer(help="List and revoke API tokens.", no_args_is_help=True)

UserOption = Annotated[
    str | None, typer.Option("--user", help="Whose tokens (admins only; default: yours).")
]


def _owner(client: ApiClient, user: str | None) -> str:
    if user is not None:
        return user
    me: dict[str, Any] = client.get("/me")
    return str(me["name"])


@app.command("list")
def list_tokens(
    ctx: typer.Context,
    user: UserOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Your tokens (or --user's), revoked and expired ones too."""
    client = client_for(ctx)
    owner = _owner(client, user)
    rows: list[dict[str, Any]] = client.get(f"/users/{owner}/tokens")
    if as_json:
        print_json(rows)
        return
    print_table(
        f"Tokens of {owner}",
        ["id", "label", "created", "expires", "revoked", "active"],
        [
            [
                row["id"],
                row["label"],
                row["created_at"],
                row["expires_at"] or "never",
                row["revoked_at"] or "",
                "yes" if row["active"] else "no",
            ]
            for row in rows
        ],
    )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(help="The token's id (from nuri token list).")],
    user: UserOption = None,
) -> None:
    """Revoke a token at once: the API refuses it and its portal sessions end."""
    client = client_for(ctx)
    print_json(client.post(f"/users/{_owner(client, user)}/tokens/{token_id}/revoke"))
