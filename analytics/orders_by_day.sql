-- Orders by day: paid (or free) payment-mode Checkout Sessions, once per session.
--
-- An order: a payment-mode Checkout Session that is paid, or needs no payment (a 100 %
-- discount), counted once per session on the day of the event that first showed it so.
-- A subscription sign-up through Checkout (mode subscription) is not an order; an unpaid
-- delayed-payment session (konbini, bank transfer) becomes one when it is paid.
-- Parameter 1: the IANA time zone the days are counted in ('UTC', 'Asia/Tokyo').
WITH params AS (
  SELECT ? AS tz
),
copies AS (
  SELECT
    json_extract_scalar(detail, '$.id') AS id,
    CAST(json_extract_scalar(detail, '$.created') AS bigint) AS created,
    json_extract(detail, '$.data.object') AS object,
    row_number() OVER (PARTITION BY json_extract_scalar(detail, '$.id') ORDER BY dt) AS copy
  FROM stripe_events
  WHERE type IN ('checkout.session.completed', 'checkout.session.async_payment_succeeded')
    AND json_extract(detail, '$.data.object') IS NOT NULL
),
orders AS (
  SELECT
    created,
    row_number() OVER (
      PARTITION BY json_extract_scalar(object, '$.id') ORDER BY created, id
    ) AS nth
  FROM copies
  WHERE copy = 1
    AND json_extract_scalar(object, '$.mode') = 'payment'
    AND json_extract_scalar(object, '$.payment_status') IN ('paid', 'no_payment_required')
)
SELECT
  CAST(CAST(from_unixtime(o.created, p.tz) AS date) AS varchar) AS day,
  count(*) AS orders
FROM orders AS o
CROSS JOIN params AS p
WHERE o.nth = 1
GROUP BY 1
ORDER BY 1
