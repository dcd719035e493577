-- Monthly recurring revenue by currency, in Stripe's minor units, of active subscriptions.
--
-- From each subscription's latest state (its newest customer.subscription.* event; on a tie,
-- deleted wins over updated over created). Counted: status active or past_due (Stripe still
-- collects a past_due one; a trial pays nothing yet). Each item's price (or the old `plan`
-- shape: no items, the subscription's plan and quantity) is made monthly: year / 12,
-- week * 52 / 12, day * 365 / 12, each divided by interval_count. Discounts, taxes and metered
-- or tiered prices (no unit_amount) are not counted. Rounded to whole minor units per currency.
WITH copies AS (
  SELECT
    json_extract_scalar(detail, '$.id') AS id,
    type,
    CAST(json_extract_scalar(detail, '$.created') AS bigint) AS created,
    json_extract(detail, '$.data.object') AS object,
    row_number() OVER (PARTITION BY json_extract_scalar(detail, '$.id') ORDER BY dt) AS copy
  FROM stripe_events
  WHERE type IN (
      'customer.subscription.created', 'customer.subscription.updated',
      'customer.subscription.deleted', 'customer.subscription.paused',
      'customer.subscription.resumed'
    )
    AND json_extract(detail, '$.data.object') IS NOT NULL
),
latest AS (
  SELECT
    object,
    row_number() OVER (
      PARTITION BY json_extract_scalar(object, '$.id')
      ORDER BY
        created DESC,
        CASE type
          WHEN 'customer.subscription.deleted' THEN 2
          WHEN 'customer.subscription.created' THEN 0
          ELSE 1
        END DESC,
        id DESC
    ) AS nth
  FROM copies
  WHERE copy = 1
),
counted AS (
  SELECT object
  FROM latest
  WHERE nth = 1 AND json_extract_scalar(object, '$.status') IN ('active', 'past_due')
),
lines AS (
  SELECT
    coalesce(
      json_extract_scalar(i.item, '$.price.currency'),
      json_extract_scalar(i.item, '$.plan.currency'),
      json_extract_scalar(c.object, '$.currency')
    ) AS currency,
    CAST(coalesce(
      json_extract_scalar(i.item, '$.price.unit_amount'),
      json_extract_scalar(i.item, '$.plan.amount')
    ) AS double) AS amount,
    coalesce(
      json_extract_scalar(i.item, '$.price.recurring.interval'),
      json_extract_scalar(i.item, '$.plan.interval')
    ) AS period,
    CAST(coalesce(
      json_extract_scalar(i.item, '$.price.recurring.interval_count'),
      json_extract_scalar(i.item, '$.plan.interval_count'),
      '1'
    ) AS double) AS period_count,
    CAST(coalesce(json_extract_scalar(i.item, '$.quantity'), '1') AS double) AS quantity
  FROM counted AS c
  CROSS JOIN UNNEST(CAST(json_extract(c.object, '$.items.data') AS array(json))) AS i (item)
  UNION ALL
  SELECT
    coalesce(
      json_extract_scalar(object, '$.plan.currency'), json_extract_scalar(object, '$.currency')
    ) AS currency,
    CAST(json_extract_scalar(object, '$.plan.amount') AS double) AS amount,
    json_extract_scalar(object, '$.plan.interval') AS period,
    CAST(coalesce(json_extract_scalar(object, '$.plan.interval_count'), '1') AS double)
      AS period_count,
    CAST(coalesce(json_extract_scalar(object, '$.quantity'), '1') AS double) AS quantity
  FROM counted
  WHERE coalesce(json_array_length(json_extract(object, '$.items.data')), 0) = 0
)
SELECT
  currency,
  CAST(round(sum(
    amount * quantity / period_count * CASE period
      WHEN 'month' THEN 1.0
      WHEN 'year' THEN 1.0 / 12
      WHEN 'week' THEN 52.0 / 12
      WHEN 'day' THEN 365.0 / 12
    END
  )) AS bigint) AS mrr,
  count(*) AS lines
FROM lines
WHERE amount IS NOT NULL
GROUP BY 1
ORDER BY 1
