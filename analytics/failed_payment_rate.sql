-- Failed-payment rate by day: failed / (failed + paid) payments.
--
-- Failed: payments Stripe reported failed after the customer left
-- (invoice.payment_failed: a renewal or invoice attempt; checkout.session.async_payment_failed:
-- a konbini or bank transfer that was never paid), against payments that succeeded: the ones
-- revenue_by_day counts as gross (paid payment-mode Checkout Sessions once per session, paid
-- invoices of more than 0 once per invoice, not the invoice a payment-mode session made for
-- itself).
-- rate = failed / (failed + paid). Each failure event is one failed attempt.
-- Parameter 1: the IANA time zone the days are counted in ('UTC', 'Asia/Tokyo').
WITH params AS (
  SELECT ? AS tz
),
copies AS (
  SELECT
    json_extract_scalar(detail, '$.id') AS id,
    type,
    CAST(json_extract_scalar(detail, '$.created') AS bigint) AS created,
    json_extract(detail, '$.data.object') AS object,
    row_number() OVER (PARTITION BY json_extract_scalar(detail, '$.id') ORDER BY dt) AS copy
  FROM stripe_events
  WHERE type IN (
      'checkout.session.completed', 'checkout.session.async_payment_succeeded',
      'checkout.session.async_payment_failed', 'invoice.paid', 'invoice.payment_failed'
    )
    AND json_extract(detail, '$.data.object') IS NOT NULL
),
facts AS (
  SELECT id, type, created, object FROM copies WHERE copy = 1
),
checkouts AS (
  SELECT
    created,
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
    row_number() OVER (
      PARTITION BY json_extract_scalar(object, '$.id') ORDER BY created, id
    ) AS nth
  FROM facts
  WHERE type = 'invoice.paid'
    AND CAST(json_extract_scalar(object, '$.amount_paid') AS bigint) > 0
),
outcomes AS (
  SELECT created, 0 AS failed, 1 AS paid FROM checkouts WHERE nth = 1
  UNION ALL
  SELECT created, 0 AS failed, 1 AS paid
  FROM invoices
  WHERE nth = 1
    AND invoice_id NOT IN (
      SELECT invoice_id FROM checkouts WHERE nth = 1 AND invoice_id IS NOT NULL
    )
  UNION ALL
  SELECT created, 1 AS failed, 0 AS paid
  FROM facts
  WHERE type IN ('invoice.payment_failed', 'checkout.session.async_payment_failed')
)
SELECT
  CAST(CAST(from_unixtime(o.created, p.tz) AS date) AS varchar) AS day,
  sum(o.failed) AS failed,
  sum(o.paid) AS paid,
  round(CAST(sum(o.failed) AS double) / (sum(o.failed) + sum(o.paid)), 4) AS rate
FROM outcomes AS o
CROSS JOIN params AS p
GROUP BY 1
ORDER BY 1
