"""A proposal draft as a letter: PDF (reportlab) or DOCX (python-docx).

Both renderings read the view :func:`rescore.packs.tenders.proposals.get` returns and lay out
the same letter: addressee, reference, the four headed sections, the schedule as a table,
the signature. Both libraries are in the ``tenders`` extra; a missing one is a
:class:`ConfigurationError` that says what to install::

    pdf = proposal_pdf(view)     # bytes starting with %PDF
    docx = proposal_docx(view)   # a Word document (a zip)
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from rescore.exceptions import ConfigurationError

__all__ = ["HEADINGS", "need", "proposal_docx", "proposal_pdf"]

#: Section key -> heading, in the letter's order.
HEADINGS = {
    "comprension": "1. Comprensión de los requerimientos",
    "experiencia": "2. Experiencia relevante",
    "solucion": "3. Solución propuesta",
    "cronograma": "4. Cronograma",
}


def need(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigurationError(
            f"exporting needs {module}: pip install 'rescore[tenders]'", field="formato"
        )


def _opening(view: dict[str, Any]) -> list[str]:
    t = view["licitacion"]
    return [
        f"Señores {t.get('organismo') or ''}",
        f"{t.get('region') or ''}",
        f"Ref.: Cotización {view['codigo_licitacion']}, {t.get('nombre') or ''}",
        "De nuestra consideración: presentamos a ustedes nuestra propuesta para la "
        "solicitud de la referencia.",
    ]


def _closing(view: dict[str, Any]) -> list[str]:
    e = view["empresa"]
    return ["Atentamente,", f"{e['nombre']}", f"RUT {e['rut']}"]


def _rows(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (m["etapa"], date.fromisoformat(str(m["fecha"])).strftime("%d-%m-%Y"))
        for m in view["secciones"]["cronograma"]
    ]


def proposal_pdf(view: dict[str, Any]) -> bytes:
    """The letter as a PDF (A4)."""
    need("reportlab")
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    styles = getSampleStyleSheet()
    body, heading = styles["BodyText"], styles["Heading2"]
    story: list[Any] = [Paragraph(escape(line), body) for line in _opening(view)]
    for key, title in HEADINGS.items():
        story += [Spacer(1, 8), Paragraph(escape(title), heading)]
        if key == "cronograma":
            story.append(Table([("Etapa", "Fecha"), *_rows(view)], hAlign="LEFT"))
        else:
            story.append(Paragraph(escape(view["secciones"][key]), body))
    story += [Spacer(1, 16), *(Paragraph(escape(line), body) for line in _closing(view))]
    out = io.BytesIO()
    title = f"Propuesta {view['codigo_licitacion']}"
    SimpleDocTemplate(out, pagesize=A4, title=title, author=view["empresa"]["nombre"]).build(story)
    return out.getvalue()


def proposal_docx(view: dict[str, Any]) -> bytes:
    """The letter as a Word document, headings as Word headings (editable before sending)."""
    need("docx")
    import docx

    document = docx.Document()
    document.core_properties.title = f"Propuesta {view['codigo_licitacion']}"
    for line in _opening(view):
        document.add_paragraph(line)
    for key, title in HEADINGS.items():
        document.add_heading(title, level=2)
        if key == "cronograma":
            _docx_table(document, _rows(view))
        else:
            document.add_paragraph(view["secciones"][key])
    for line in _closing(view):
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _docx_table(document: Any, rows: list[tuple[str, str]]) -> None:
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Etapa", "Fecha"
    for stage, day in rows:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = stage, day
