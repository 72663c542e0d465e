"""What a product is called: its own name, else the name of its material record.

An ERP like SAP keeps a product as a material (MARA, its description in MAKT): the product a
unit's order makes may have no name of its own while the material of the same number has one.
The agents and the pages that name products read them here, so every one names them alike.
"""

from __future__ import annotations

from factorybrain.store import Store


def product_names(store: Store) -> dict[tuple[str, str], str]:
    """Each named product by ``(space, external_id)``, named by its material where it has none.

    Materials without a product record of the same number are included too (a unit's product
    may only be known as a material); looking a product up by its key finds its name either way.
    """
    rows = store.query(
        "SELECT coalesce(p.space, m.space) AS space, "
        "coalesce(p.external_id, m.external_id) AS external_id, "
        "coalesce(p.name, m.name) AS name "
        "FROM product p FULL JOIN material m "
        "ON m.space = p.space AND m.external_id = p.external_id "
        "WHERE coalesce(p.name, m.name) IS NOT NULL"
    )
    return {
        (str(space), str(external_id)): str(name)
        for space, external_id, name in rows.itertuples(index=False)
    }


__all__ = ["product_names"]
