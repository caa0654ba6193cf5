-- Orders as of the cut-off: the latest version of every order created at or before as_of.

with source as (

    select * from {{ source('landing', 'orders') }}

),

renamed as (
    {{ stage_orders('source') }}
)

select * from renamed
