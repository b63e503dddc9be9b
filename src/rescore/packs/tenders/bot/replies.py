"""What each command answers, decided synchronously against the database: the bot's async
handlers run these in a thread (:func:`asyncio.to_thread`) and send the text, so the event
loop never waits on a query and every command's logic is testable without Telegram.

Heavy commands (``/precio``, ``/scoring``, ``/generar_propuesta``, ``/exportar``) are two
steps: :meth:`Replies.admit` (link, arguments, one quota unit: answered at once) and
:meth:`Replies.enqueue` (the job for the workers, after the acknowledgement went out, so the
result can never overtake it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from rescore.exceptions import RescoreError
from rescore.packs.sdk import source_read, source_write
from rescore.packs.tenders import business_metrics, messages, tiers
from rescore.packs.tenders.bot.links import subscriber_of
from rescore.packs.tenders.exports import FORMATS, SOURCES
from rescore.packs.tenders.proposals import clp
from rescore.packs.tenders.schema import alert_profiles, subscribers
from rescore.packs.tenders.service import FEATURES
from rescore.packs.tenders.subscriptions import subscription

if TYPE_CHECKING:
    from rescore.packs.tenders.service import Service

__all__ = ["Admitted", "Replies"]

RUT = re.compile(r"^[0-9]{7,8}-[0-9Kk]$")
CODE = re.compile(r"^[A-Za-z0-9\-]{1,40}$")
LONGEST = 200  # as the HTTP API's product and search texts
NOT_LINKED = (
    "Primero vincule este chat con su suscripción: /start <su RUT> (ej. /start 76543210-3)."
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Admitted:
    """A heavy command let in: what to answer now and, if ``job`` is set, the job to queue."""

    text: str
    job: tuple[str, str, dict[str, Any]] | None = None  # (kind, subscriber, params)


class Replies:
    """The commands' logic over one :class:`~rescore.packs.tenders.service.Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.engine = service.engine

    def subscriber(self, chat_id: int) -> dict[str, Any] | None:
        """The subscriber this chat is linked to."""
        s = subscribers.c
        with source_read(self.engine) as conn:
            row = conn.execute(
                select(s.id, s.nombre, s.tier).where(s.telegram_chat_id == chat_id)
            ).first()
        return None if row is None else dict(row._mapping)

    def _count(self, who: dict[str, Any] | None, command: str, status: str) -> None:
        business_metrics.count_command(self.engine, who["tier"] if who else "none", command, status)

    # light commands ------------------------------------------------------------------------

    def start(self, chat_id: int, args: list[str]) -> str:
        """Link the chat to a subscriber: by its link code when ``RESCORE_TENDERS_LINK_SECRET``
        is set (:mod:`.links`), else by its RUT."""
        if not args:
            return "Bienvenido a CompraAgil.\n" + self._how_to_link() + "\n\n" + messages.HELP
        secret = self.service.pack.settings.link_secret
        s = subscribers.c
        if secret is not None:
            who = subscriber_of(secret.get_secret_value(), args[0])
            if who is None:
                return "Ese código de vinculación no es válido. " + self._how_to_link()
            found, named = s.id == who, "ese código"
        else:
            rut = args[0].upper()
            if not RUT.match(rut):
                return f"«{args[0]}» no es un RUT (ej. 76543210-3)."
            found, named = s.rut == rut, f"el RUT {rut}"
        return self._link(chat_id, found, named)

    def _how_to_link(self) -> str:
        if self.service.pack.settings.link_secret is not None:
            return "Abra el enlace de vinculación que le dio CompraAgil (o /start <código>)."
        return NOT_LINKED

    def _link(self, chat_id: int, found: Any, named: str) -> str:
        s = subscribers.c
        with source_write(self.engine) as conn:
            row = conn.execute(select(s.id, s.nombre, s.telegram_chat_id).where(found)).first()
            if row is None:
                return f"No hay una suscripción con {named}."
            if row.telegram_chat_id not in (None, chat_id):
                return f"La suscripción de {named} ya está vinculada a otro chat."
            conn.execute(
                update(subscribers)
                .where(s.telegram_chat_id == chat_id, s.id != row.id)
                .values(telegram_chat_id=None)
            )
            conn.execute(update(subscribers).where(s.id == row.id).values(telegram_chat_id=chat_id))
        self._count({"tier": self._tier(row.id)}, "start", "ok")
        return f"Hola {row.nombre}, este chat quedó vinculado. Escriba /help para ver los comandos."

    def _tier(self, subscriber_id: str) -> str:
        with source_read(self.engine) as conn:
            return str(subscription(conn, subscriber_id)["tier"])

    def mine(self, chat_id: int) -> str:
        """``/mis_suscripciones``: plan, price, expiry, active alert profiles."""
        who = self.subscriber(chat_id)
        if who is None:
            return NOT_LINKED
        p = alert_profiles.c
        with source_read(self.engine) as conn:
            found = subscription(conn, who["id"])
            profiles = conn.execute(
                select(p.tipo, p.texto).where(p.suscriptor_id == who["id"], p.activo)
            ).all()
        tier = tiers.catalog().tier(found["tier"])
        until = found["vence_en"].strftime("%d-%m-%Y") if found["vence_en"] else "sin vencimiento"
        lines = [f"Plan {tier.label} ({clp(tier.price_clp)}/mes), {until}."]
        lines += [f"• Alerta {kind}: {text}" for kind, text in profiles] or ["Sin alertas activas."]
        self._count(who, "mis_suscripciones", "ok")
        return "\n".join(lines)

    def upgrade(self, chat_id: int) -> str:
        """``/upgrade``: the paid plans above the subscriber's, each with its payment link
        (``RESCORE_TENDERS_UPGRADE_URL``) or, offline, how to ask for it."""
        who = self.subscriber(chat_id)
        if who is None:
            return NOT_LINKED
        catalog = tiers.catalog()
        current = catalog.tier(who["tier"])
        better = [t for t in catalog.tiers if t.price_clp > current.price_clp]
        if not better:
            return f"Ya tiene el plan más completo ({current.label})."
        url = self.service.pack.settings.upgrade_url
        lines = [f"Su plan: {current.label}. Planes disponibles:"]
        for tier in better:
            pay = url.format(suscriptor=who["id"], tier=tier.name) if url else None
            link = f": {pay}" if pay else ""
            lines.append(f"• {tier.label}, {clp(tier.price_clp)}/mes{link}")
        if not url:
            lines.append("Para contratar, responda a este mensaje con el plan que desea.")
        self._count(who, "upgrade", "ok")
        return "\n".join(lines)

    def semantic_alert(self, chat_id: int, args: list[str]) -> str:
        """``/alertas_ia <texto>``: a semantic alert profile (the tier's room checked in the
        transaction that adds it)."""
        who = self.subscriber(chat_id)
        if who is None:
            return NOT_LINKED
        text = " ".join(args).strip()
        if not text:
            return "Diga qué vende: /alertas_ia Vendo notebooks y tablets para colegios"
        pack = self.service.pack
        try:
            with source_write(self.engine) as conn:
                tiers.require_profile_room(self.engine, conn, who["id"], "semantic")
                pack.intel.create_profile(conn, who["id"], "semantic", text, None, pack.as_of())
        except (tiers.FeatureNotInTier, tiers.QuotaExhausted) as refused:
            self._count(who, "alertas_ia", "blocked")
            return refusal(refused)
        self._count(who, "alertas_ia", "ok")
        return f"Alerta creada: le avisaré de licitaciones nuevas sobre «{text}»."

    # heavy commands ------------------------------------------------------------------------

    def admit(self, chat_id: int, kind: str, args: list[str]) -> Admitted:
        """Check the link, the arguments and take one quota unit; the answer to send now."""
        who = self.subscriber(chat_id)
        if who is None:
            return Admitted(text=NOT_LINKED)
        params, problem = _params(kind, args)
        if problem is not None:
            return Admitted(text=problem)
        try:
            tiers.consume(self.engine, who["id"], FEATURES[kind])
        except (tiers.FeatureNotInTier, tiers.QuotaExhausted) as refused:
            self._count(who, kind, "blocked")
            return Admitted(text=refusal(refused))
        self._count(who, kind, "ok")
        ack = messages.ACK[kind].format(arg=" ".join(args))
        return Admitted(text=ack, job=(kind, who["id"], params))

    def enqueue(self, chat_id: int, admitted: Admitted, message_id: int | None = None) -> str:
        """Queue the admitted job; its result goes to ``chat_id`` as a reply to the command's
        message ``message_id``. The job's id."""
        assert admitted.job is not None
        kind, who, params = admitted.job
        if message_id is not None:
            params = params | {"mensaje": message_id}
        try:
            return self.service.submit(kind, who, params, chat_id=chat_id)
        except BaseException:
            tiers.release(self.engine, who, FEATURES[kind])
            raise


def _params(kind: str, args: list[str]) -> tuple[dict[str, Any], str | None]:
    """A heavy command's job parameters, or the usage line to answer."""
    if len(" ".join(args)) > LONGEST:
        return {}, f"El texto es demasiado largo (máximo {LONGEST} caracteres)."
    if kind == "precio":
        product = " ".join(args).strip()
        return {"producto": product}, None if product else "Uso: /precio <producto>"
    if kind == "export":
        if len(args) < 1 or args[0] not in SOURCES:
            return {}, f"Uso: /exportar <{'|'.join(SOURCES)}> [texto] [{'|'.join(FORMATS)}]"
        fmt = args[-1] if len(args) > 1 and args[-1] in FORMATS else "xlsx"
        text = " ".join(a for a in args[1:] if a not in FORMATS)
        if args[0] != "alertas" and not text:
            return {}, f"Uso: /exportar {args[0]} <texto>"
        key = "consulta" if args[0] == "busqueda" else "producto"
        return {"fuente": args[0], key: text, "formato": fmt}, None
    if not args or not CODE.match(args[0]):
        usage = "/scoring <codigo> [precio]" if kind == "scoring" else "/generar_propuesta <codigo>"
        return {}, f"Uso: {usage}"
    params: dict[str, Any] = {"codigo": args[0]}
    if kind == "scoring" and len(args) > 1:
        price = _number(args[1])
        if price is None:
            return {}, f"«{args[1]}» no es un precio (ej. 15990)."
        params["precio"] = price
    return params, None


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(".", "").replace(",", "."))
    except ValueError:
        return None
    return value if 0 < value < 1e12 else None


def refusal(refused: RescoreError) -> str:
    """A tier's refusal in the subscriber's words: what, why, and the plan that allows it."""
    catalog = tiers.catalog()
    feature = catalog.feature(getattr(refused, "feature", ""))
    tier = catalog.tier(getattr(refused, "tier", "free"))
    upgrade = getattr(refused, "upgrade", None)
    if isinstance(refused, tiers.QuotaExhausted):
        when = "hoy" if feature.period == "day" else "este mes"
        limit = feature.limits.get(tier.name)
        text = (
            f"Ya usó {limit} de {limit} «{feature.label}» {when} en su plan {tier.label}; "
            f"se renueva en {_wait(refused.retry_after)}."
        )
    elif isinstance(refused, tiers.LimitReached):
        text = f"Su plan {tier.label} no permite más «{feature.label}» activas."
    else:
        text = f"«{feature.label}» no está incluido en su plan {tier.label}."
    if upgrade:
        better = catalog.tier(upgrade)
        text += f" El plan {better.label} lo permite ({clp(better.price_clp)}/mes): /upgrade"
    return text


def _wait(seconds: int) -> str:
    """How long until a quota resets, as a person says it."""
    hours, rest = divmod(seconds, 3600)
    if hours >= 48:
        return f"{round(seconds / 86400)} días"
    return f"{hours} h {rest // 60} min"
