-- Run by test/compat-cli.test.ts with psql against Postgres and against
-- Outpost; stdout must be byte-identical. With -v is_outpost=true the route
-- of selected statements goes to stderr (psql pipes `\g |cmd` through a shell).
\d
\dt
\dv
\di
\df
\d products
\d+ orders
\dn
\dT
select * from products order by id;
\if :is_outpost
show outpost.last_route \g |cat >&2
\endif
select c.name, count(o.id) as orders, sum(o.qty) as qty, max(o.placed_at) as last
  from customers c left join orders o on o.customer_id = c.id
  where c.created_at > '2000-01-01 00:00:00+00'
  group by c.name order by c.name limit 10;
\if :is_outpost
show outpost.last_route \g |cat >&2
\endif
\x on
select * from customers where vip order by id;
\x off
select order_total(2) as total, (select count(*) from big_orders) as big;
select p.name, p.tags, p.attrs, p.image from products p where p.price between 1 and 100 order by p.name;
insert into orders values (900, 1, 2, 4, '2024-05-05 05:05:05+00', 'psql') returning *;
update orders set qty = qty + 1, note = note || ' updated' where id = 900 returning id, qty, note;
select o.id, o.qty, o.note, c.name from orders o join customers c on c.id = o.customer_id where o.id = 900;
\if :is_outpost
show outpost.last_route \g |cat >&2
\endif
begin;
update products set stock = stock - 1 where id = 3;
select stock from products where id = 3;
rollback;
delete from orders where id = 900;
select count(*) from orders;
