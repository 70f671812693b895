"""Extract kvar's user-visible texts, update the Swedish and Norwegian catalogs and compile them.

Usage: .venv/bin/python scripts/translations.py    (then translate the empty or fuzzy entries it lists
in src/kvar/i18n/locales/*/LC_MESSAGES/kvar.po, using docs/glossary.md, and run it again)
"""

from kvar.i18n.catalogs import update_all

if __name__ == "__main__":
    remaining = update_all()
    for locale, problems in remaining.items():
        print(f"{locale}: {len(problems)} to do")
        for problem in problems[:20]:
            print("  " + problem)
    raise SystemExit(1 if any(remaining.values()) else 0)
