-- The shop's orders as of the run's cut-off (contracts §2): the latest version of every order
-- created at or before as_of. An order created later does not exist for this run.

with

source as (

    select * from {{ source('landing', 'orders') }}

),

renamed as (

    select
        -- ids
        order_id,
        customer_id,

        -- attributes
        status as order_status,
        currency,

        -- amounts
        cast(total_amount as decimal(18, 2)) as total_amount,

        -- timestamps
        created_at,
        updated_at

    from source
    where created_at <= {{ as_of() }}

)

select * from renamed
