-- Revenue by day and currency: gross, refunds and net, in Stripe's minor units.
--
-- Minor units: JPY in yen, USD in cents.
-- Parameter 1: the IANA time zone the days are counted in ('UTC', 'Asia/Tokyo').
--
-- gross   = paid payment-mode Checkout Sessions' amount_total (checkout.session.completed or
--           .async_payment_succeeded, once per session)
--         + paid invoices' amount_paid (invoice.paid, once per invoice), except the invoice a
--           payment-mode Checkout Session made for itself (invoice_creation: counted above)
-- refunds = the increases of a charge's amount_refunded: on each charge event, amount_refunded
--           minus its value before (previous_attributes.amount_refunded, else the highest value
--           the charge's earlier events showed, else 0); decreases are not counted
-- net     = gross - refunds
-- A day is the day of the event's `created` in the time zone. Events are counted once per
-- event id, and only events that carry their object (a thin payload, without
-- detail.data.object, is not a fact; its hydrated copy is).
WITH params AS (
  SELECT ? AS tz
),
copies AS (
  SELECT
    json_extract_scalar(detail, '$.id') AS id,
    type,
    CAST(json_extract_scalar(detail, '$.created') AS bigint) AS created,
    json_extract(detail, '$.data.object') AS object,
    json_extract(detail, '$.data.previous_attributes') AS previous,
    row_number() OVER (PARTITION BY json_extract_scalar(detail, '$.id') ORDER BY dt) AS copy
  FROM stripe_events
  WHERE type IN (
      'checkout.session.completed', 'checkout.session.async_payment_succeeded', 'invoice.paid',
      'charge.succeeded', 'charge.captured', 'charge.updated', 'charge.refunded'
    )
    AND json_extract(detail, '$.data.object') IS NOT NULL
),
facts AS (
  SELECT id, type, created, object, previous FROM copies WHERE copy = 1
),
checkouts AS (
  SELECT
    created,
    json_extract_scalar(object, '$.currency') AS currency,
    CAST(json_extract_scalar(object, '$.amount_total') AS bigint) AS amount,
    json_extract_scalar(object, '$.invoice') AS invoice_id,
    row_number() OVER (
      PARTITION BY json_extract_scalar(object, '$.id') ORDER BY created, id
    ) AS nth
  FROM facts
  WHERE type IN ('checkout.session.completed', 'checkout.session.async_payment_succeeded')
    AND json_extract_scalar(object, '$.mode') = 'payment'
    AND json_extract_scalar(object, '$.payment_status') = 'paid'
),
invoices AS (
  SELECT
    created,
    json_extract_scalar(object, '$.id') AS invoice_id,
    json_extract_scalar(object, '$.currency') AS currency,
    CAST(json_extract_scalar(object, '$.amount_paid') AS bigint) AS amount,
    row_number() OVER (
      PARTITION BY json_extract_scalar(object, '$.id') ORDER BY created, id
    ) AS nth
  FROM facts
  WHERE type = 'invoice.paid'
),
charges AS (
  SELECT
    id,
    created,
    json_extract_scalar(object, '$.id') AS charge_id,
    json_extract_scalar(object, '$.currency') AS currency,
    CAST(json_extract_scalar(object, '$.amount_refunded') AS bigint) AS refunded,
    CAST(json_extract_scalar(previous, '$.amount_refunded') AS bigint) AS refunded_before
  FROM facts
  WHERE json_extract_scalar(object, '$.object') = 'charge'
),
refund_steps AS (
  SELECT
    created,
    currency,
    refunded - coalesce(
      refunded_before,
      max(refunded) OVER (
        PARTITION BY charge_id ORDER BY created, id
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
      ),
      0
    ) AS amount
  FROM charges
),
amounts AS (
  SELECT created, currency, amount AS gross, 0 AS refunds
  FROM checkouts
  WHERE nth = 1
  UNION ALL
  SELECT created, currency, amount AS gross, 0 AS refunds
  FROM invoices
  WHERE nth = 1
    AND amount > 0
    AND invoice_id NOT IN (
      SELECT invoice_id FROM checkouts WHERE nth = 1 AND invoice_id IS NOT NULL
    )
  UNION ALL
  SELECT created, currency, 0 AS gross, amount AS refunds
  FROM refund_steps
  WHERE amount > 0
)
SELECT
  CAST(CAST(from_unixtime(a.created, p.tz) AS date) AS varchar) AS day,
  a.currency AS currency,
  sum(a.gross) AS gross,
  sum(a.refunds) AS refunds,
  sum(a.gross) - sum(a.refunds) AS net
FROM amounts AS a
CROSS JOIN params AS p
GROUP BY 1, 2
ORDER BY 1, 2
