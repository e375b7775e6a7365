"""`parley users …`: manage collaborators from the command line (passwords read from stdin only)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from parley.security.passwords import hash_password
from parley.security.users import ROLES, User, normalize_email
from parley.settings import Settings
from parley.store.sql import open_store


def add_parser(sub: Any) -> None:
    users = sub.add_parser("users", help="manage collaborators (who may log in)")
    users.add_argument("--data", help="the data folder (default $PARLEY_DATA or ./data)")
    # `--data` is accepted after the action too (`parley users create EMAIL --data DIR`).
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--data", default=argparse.SUPPRESS, help="the data folder")
    actions = users.add_subparsers(dest="users_command", required=True)
    create = actions.add_parser("create", parents=[data], help="create a user; the password is read from stdin")
    create.add_argument("email")
    create.add_argument("--role", choices=ROLES, default="developer")
    create.add_argument("--superadmin", action="store_true")
    create.add_argument("--bots", default="", help="comma-separated bot ids the user may access ('*' = all)")
    actions.add_parser("list", parents=[data], help="list users")
    delete = actions.add_parser("delete", parents=[data], help="delete a user")
    delete.add_argument("email")
    setpw = actions.add_parser("set-password", parents=[data],
                               help="change a password (stdin); revokes older tokens")
    setpw.add_argument("email")
    revoke = actions.add_parser("revoke", parents=[data], help="invalidate every token issued to a user so far")
    revoke.add_argument("email")
    update = actions.add_parser("update", parents=[data], help="change a user's role, bots or superadmin flag")
    update.add_argument("email")
    update.add_argument("--role", choices=ROLES)
    update.add_argument("--bots", help="comma-separated bot ids the user may access ('*' = all); replaces the list")
    flag = update.add_mutually_exclusive_group()
    flag.add_argument("--superadmin", dest="superadmin", action="store_true", default=None)
    flag.add_argument("--no-superadmin", dest="superadmin", action="store_false")


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise SystemExit("passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env(args.data)
    store = open_store(settings.database_url)
    await store.open()
    try:
        cmd = args.users_command
        if cmd == "list":
            for u in await store.list_users():
                flag = " superadmin" if u.super_admin else ""
                print(f"{u.email}\t{u.role}{flag}\tbots={','.join(u.bots) or '-'}")
            return 0
        email = normalize_email(args.email)
        existing = await store.get_user(email)
        if cmd == "create":
            if existing is not None:
                print(f"{email} already exists", file=sys.stderr)
                return 1
            password = _read_password()
            if len(password) < 8:
                print("the password must have at least 8 characters", file=sys.stderr)
                return 1
            bots = [b.strip() for b in args.bots.split(",") if b.strip()]
            user = User(email, hash_password(password), args.role, args.superadmin, bots)
            await store.put_user(user)
            print(f"created {email} ({args.role})")
            if not args.superadmin and not bots:
                print(f"note: {email} may not use any bot yet (give --bots BOT,… or '*', or --superadmin)",
                      file=sys.stderr)
            return 0
        if existing is None:
            print(f"no user {email}", file=sys.stderr)
            return 1
        if cmd == "delete":
            await store.delete_user(email)
            print(f"deleted {email}")
        elif cmd == "set-password":
            password = _read_password()
            if len(password) < 8:
                print("the password must have at least 8 characters", file=sys.stderr)
                return 1
            existing.password_hash = hash_password(password)
            existing.token_version += 1
            await store.put_user(existing)
            print(f"password changed for {email}; older tokens no longer work")
        elif cmd == "update":
            if args.role is not None:
                existing.role = args.role
            if args.bots is not None:
                existing.bots = [b.strip() for b in args.bots.split(",") if b.strip()]
            if args.superadmin is not None:
                existing.super_admin = args.superadmin
            await store.put_user(existing)
            flag = " superadmin" if existing.super_admin else ""
            print(f"{email}: {existing.role}{flag}, bots={','.join(existing.bots) or '-'}")
        elif cmd == "revoke":
            existing.token_version += 1
            await store.put_user(existing)
            print(f"every token of {email} issued so far is revoked")
        return 0
    finally:
        await store.close()


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
