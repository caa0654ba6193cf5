-- Payments as of the cut-off: the latest version of every payment created at or before as_of
-- (payments created later are ignored even if they name an order that is considered).

with source as (

    select * from {{ source('landing', 'payments') }}

),

renamed as (
    {{ stage_payments('source') }}
)

select * from renamed
