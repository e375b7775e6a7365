"""Quote the price of a pizza: an example of a parley Python action.

parley calls `run` with whichever of event, user, session, temp, bot, args and reply it declares.
"""

PRICES = {"small": 9.5, "large": 14}


async def run(temp: dict, args: dict) -> None:
    size = args.get("size", "small")
    if size not in PRICES:
        raise ValueError(f"unknown size {size!r}")
    temp["price"] = PRICES[size]
