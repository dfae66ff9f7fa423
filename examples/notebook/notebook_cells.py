"""Notebook-style exploration: cells of top-level calls, run where an event loop is running.

Jupyter runs every cell inside its own running event loop, where ``asyncio.run`` fails.
The blocking ``Phygitals`` runs its own loop on its own thread, so its calls work there
as they do in a script; paste each ``# %%`` cell into a notebook (or run this file as is,
in Jupyter with ``%run``). In a notebook, ``await`` on an ``AsyncPhygitals`` works too.

Run against a local sandbox::

    phygitals sandbox --port 8787 &
    export PHYGITALS_API_KEY=sandbox-local PHYGITALS_BASE_URL=http://127.0.0.1:8787/_
    python notebook_cells.py
"""

# %% Open one client for the notebook's session ($PHYGITALS_API_KEY from the environment).
from phygitals_async import Phygitals

client = Phygitals()

# %% What is on sale?
packs = [pack for pack in client.list_packs() if pack.purchasable]
print(f"{len(packs)} packs on sale; first: {packs[0].name} at {packs[0].mint_price}")

# %% Buy two cards and wait for the pull.
purchase = client.buy(packs[0].id, amount=2, user_id="notebook-user")
result = client.wait_for_purchase(purchase.session_id, timeout=60)
print("pulled", [nft.content.metadata.name for nft in purchase.nfts], result.public_id)

# %% The inventory as a table (a DataFrame would take `item.to_dict()` rows).
inventory = client.inventory("notebook-user")
for item in inventory.items:
    print(f"{item.content.metadata.name:40} {item.buyback_price:>10} {item.buyback_expires_at}")

# %% Sell the cheapest card back, then close the client when the session is done.
cheapest = min(inventory.items, key=lambda item: item.buyback_price)
sale = client.sell_back(cheapest)
print("sold", sale.item_id, "for", sale.amount)
client.close()
