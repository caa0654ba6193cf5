-- The providers' payments as of the run's cut-off (contracts §2): the latest version of every
-- payment created at or before as_of, whatever its status. A payment created later is ignored, even
-- when it names an order that is considered.

with

source as (

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
    where created_at <= {{ as_of() }}

)

select * from renamed
