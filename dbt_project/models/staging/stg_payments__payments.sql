-- Payments as of the cut-off: the latest version of every payment created at or before as_of
-- (payments created later are ignored even if they name an order that is considered).

with source as (

    select * from {{ source('landing', 'payments') }}

),

renamed as (

    select
        -- ids
        payment_id,
        order_id,

        -- attributes
        provider,
        kind as payment_kind,
        status as payment_status,
        currency,

        -- amounts
        cast(amount as decimal(18, 2)) as amount,

        -- timestamps
        created_at,
        updated_at

    from source
    where created_at <= {{ as_of_ts() }}

)

select * from renamed
