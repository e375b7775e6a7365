"""Record an order in the user's memory; it outlives the conversation."""


async def run(user: dict, temp: dict) -> None:
    orders = list(user.get("orders") or [])
    orders.append({"size": temp.get("size"), "price": temp.get("price")})
    user["orders"] = orders
    temp["orderNumber"] = len(orders)
