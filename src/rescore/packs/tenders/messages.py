"""What the bot says, in Spanish: help, acknowledgements, results, refusals.

Plain text (no Markdown parse mode), so a product name with ``*`` or ``_`` can never break a
message.
"""

from __future__ import annotations

from typing import Any

from rescore.packs.tenders.proposals import clp

__all__ = ["ACK", "HELP", "price", "scoring"]

HELP = """Comandos de CompraAgil:
/start <rut> - vincula este chat con su suscripción
/precio <producto> - precio sugerido según adjudicaciones históricas
/scoring <codigo> [precio] - probabilidad de ganar una licitación
/alertas_ia <descripción> - alerta por significado ("Vendo laptops HP")
/generar_propuesta <codigo> - borrador de propuesta en PDF
/exportar <busqueda|precio|alertas> <texto> - planilla Excel
/mis_suscripciones - su plan, vencimiento y alertas
/upgrade - mejorar su plan"""

#: The immediate answer to a command whose work runs in the workers.
ACK = {
    "precio": "Analizando precios de «{arg}», ~10 s…",
    "scoring": "Calculando la probabilidad de ganar {arg}, ~10 s…",
    "propuesta": "Generando la propuesta para {arg}, ~20 s…",
    "export": "Preparando la exportación, le enviaré el archivo…",
}


def price(analysis: dict[str, Any]) -> str:
    """A price analysis as a message."""
    sample = analysis.get("muestra", {})
    if not analysis.get("precio_sugerido"):
        return (
            f"No hay adjudicaciones de «{analysis.get('producto')}» en los últimos dos años "
            "para sugerir un precio."
        )
    lines = [
        f"Precio para «{analysis['producto']}» ({sample.get('adjudicaciones', 0)} "
        f"adjudicaciones de {sample.get('cotizaciones', 0)} cotizaciones):",
        f"• Competitivo: {clp(analysis['precio_competitivo'])}",
        f"• Sugerido: {clp(analysis['precio_sugerido'])}",
        f"• Seguro: {clp(analysis['precio_seguro'])}",
    ]
    lines += [f"• {i['texto']}" for i in analysis.get("insights", [])[:3]]
    return "\n".join(lines)


def scoring(found: dict[str, Any], price: float) -> str:
    """A win probability as a message."""
    lines = [
        f"Probabilidad de ganar {found['codigo_licitacion']} con {clp(price)} por unidad: "
        f"{found['probability'] * 100:.1f}%"
    ]
    lines += [
        f"• {f['label']}: {'sube' if f['direction'] == 'up' else 'baja'} "
        f"{abs(f['contribution']) * 100:.1f} puntos"
        for f in found.get("factors", [])[:3]
    ]
    lines += [f"• {r['text']}" for r in found.get("recommendations", [])[:2]]
    return "\n".join(lines)
