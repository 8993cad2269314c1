#!/usr/bin/env bash
# The main job on an embedded default: `make demo` runs this with crmctl on the PATH.
# It validates the examples, starts a workspace from one of them in ./demo (a DuckDB file, no server)
# and works with a few client records. The clock is pinned so that the output is the same every time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${DEMO_DIR:-demo}"
export CRMCTL_NOW="${CRMCTL_NOW:-2027-03-01T10:00:00+03:00}"
export CRMCTL_USER=belov

step() { printf '\n== %s\n' "$*"; }

step "crmctl validate examples/processes"
crmctl validate "$here/processes"

rm -rf "$target"
step "crmctl init $target --example pyrus-client-crm"
crmctl init "$target" --example pyrus-client-crm
cd "$target"

step "crmctl record create client ..."
crmctl record create client --set "name=ООО Ромашка" --set "phone=+7 (912) 345-67-89" \
  --set email=info@romashka.example --set contact_person="Ирина Смирнова"
crmctl record create client --set "name=ИП Васильев" --set industry=retail
crmctl record create client --set "name=АО Вектор" --set status=active --set email=office@vector.example

step "crmctl import client examples/data/clients.csv: every row checked first, safe to run twice"
crmctl import client "$here/data/clients.csv" --key name
crmctl import client "$here/data/clients.csv" --key name
crmctl --as sokolov export client --format csv | head -3

step "crmctl record update CL-1 --set status=active"
crmctl record update CL-1 --set status=active --set needs="Корпоративный сайт и визитки"
crmctl comment CL-1 "Позвонили: ждут коммерческое предложение"
crmctl remind CL-1 --at +1d "Отправить КП"
crmctl remind CL-2 --at 2027-02-26T12:00 "Уточнить реквизиты"

step "crmctl record list client --where status=active"
crmctl record list client --where status=active --format csv

step "crmctl record show CL-1"
crmctl record show CL-1

step "crmctl record history CL-1"
crmctl record history CL-1

step "crmctl agenda --days 7"
crmctl agenda --days 7

step "a deal over 1,000,000 goes through conditional approvals"
crmctl record create deal --set subject="Сайт и визитки" --set client=CL-1 --set amount=1500000 \
  --set purchase_amount=50000
crmctl simulate deal-approval --set amount=1500000 --set purchase_amount=50000
crmctl advance DL-1
crmctl --as kuznetsova approve DL-1 --comment "Согласовано"
crmctl --as nikitina approve DL-1
crmctl --as sokolov approve DL-1 --comment "Скидка не больше 5%"
crmctl board deal-approval
crmctl --as morozova inbox

step "the contract is ready: the deal is approved and its author is told, not asked to approve"
crmctl --as morozova record update DL-1 --set contract_number=Д-2027/15 --set deadline=2027-04-01
crmctl --as morozova advance DL-1
crmctl inbox | grep DL-1

step "handing work on: the presale is busy, the head of sales hands the proposal to orlova; belov delegates his check"
key=$(crmctl record create client --set "name=ООО Дельта" --set contact_person="Олег Петров" \
  --set "phone=+7 (495) 765-43-21" --set needs="CRM для отдела продаж")
crmctl approve "$key"
crmctl approve "$key"
crmctl record show "$key" | grep -E "^(stage|responsible|who acts)"
crmctl --as kuznetsova record assign "$key" orlova
crmctl --as orlova approve "$key"
crmctl approve "$key" --delegate kuznetsova
crmctl --as kuznetsova approve "$key"
crmctl record history "$key" | tail -12

step "crmctl project launch client-project --for CL-1"
crmctl project launch client-project --for CL-1 --param contact_person="Ирина Смирнова"
crmctl task start T-1
CRMCTL_NOW=2027-03-01T10:40:00+03:00 crmctl task done T-1 --comment "Контакты подтверждены"
crmctl --as belov time log T-2 1h --at 2027-02-28T15:00 --note "подготовка к встрече"
# a correction: the meeting prep took half an hour longer; the history keeps both versions
crmctl --as belov time edit 2 --minutes 90 --note "подготовка к встрече и звонок клиенту"
crmctl time list
crmctl record show CL-1

step "crmctl report efficiency --by person,type --period week"
CRMCTL_NOW=2027-03-01T12:00:00+03:00 crmctl --as sokolov report efficiency --by person,type --period week \
  --include-open
crmctl --as sokolov report efficiency --period week --format html --out efficiency.html
echo "wrote $(pwd)/efficiency.html"
crmctl --as sokolov report funnel deal-approval

step "crmctl init orders --example crm-orders: an order's task chain, queues and ready date"
crmctl init orders --example crm-orders
cd orders
export CRMCTL_USER=sergeeva
crmctl record create client --set "name=ООО Альфа"
crmctl record create deal --set "title=Сайт и визитки" --set client=CL-1 --set amount=300000
crmctl record create order --set "title=Корпоративный сайт" --set deal=DL-1 --set order_type=website \
  --set budget=200000 --set due_date=2027-03-20 --set "specification=ТЗ согласовано" --set pages=8
crmctl advance ORD-1 --to planning
crmctl advance ORD-1 --to website_production
crmctl record create payment --set deal=DL-1 --set order=ORD-1 --set amount=100000 --set paid_on=2027-03-01
crmctl queue frolov
crmctl eta ORD-1
crmctl record show DL-1
# an order's items, and how many of them are ready (a roll-up that counts with a condition)
crmctl record create order_item --set order=ORD-1 --set "product=Макет главной" --set ready=true
crmctl record create order_item --set order=ORD-1 --set "product=Вёрстка шаблонов"
crmctl record show ORD-1 | grep "Позиц"

step "crmctl load: the team at a glance, each person's queue against their working hours"
crmctl --as kovalev load --from 2027-03-01 --to 2027-03-06
crmctl --as kovalev load --format html --out load.html
echo "wrote $(pwd)/load.html"

step "an urgent order goes first in everyone's queue: its templates bind the project's priority to urgent"
crmctl record create order --set "title=Лендинг акции" --set deal=DL-1 --set order_type=website \
  --set budget=80000 --set due_date=2027-03-25 --set "specification=ТЗ в письме" --set pages=1
crmctl advance ORD-2 --to planning
crmctl advance ORD-2 --to website_production
crmctl queue
crmctl record update ORD-2 --set urgent=yes
crmctl queue

step "an order is handed over only when the client accepted it and its tasks are done"
crmctl advance ORD-1
crmctl approve ORD-1 --comment "Акт подписан"
crmctl advance ORD-1 || echo "(exit $?: the client has not accepted it yet)"
crmctl record update ORD-1 --set accepted_by_client=yes
crmctl advance ORD-1 || echo "(exit $?: its tasks are still open)"

step "crmctl init desk --example service-desk-leads: e-mail becomes incidents, prospects and tasks"
cd ..
crmctl init desk --example service-desk-leads
cd desk
export CRMCTL_USER=petrov
crmctl record create prospect --set "name=АО Вектор" --set email=office@vector.example
crmctl record create contact --set "full_name=Ирина Смирнова" --set email=i.smirnova@vector.example --set prospect=PC-1
# the dispatcher takes in both mailboxes; the broken message is reported (exit 1) and the rest is taken
crmctl --as alekseeva intake mail "$here/mail" --rule support-mail || echo "(exit $?: a message was rejected)"
crmctl --as alekseeva intake mail "$here/mail/crm-inbox.mbox" --rule crm-mail
crmctl record history PC-2
crmctl --as alekseeva task list

step "crmctl attach PC-1 ...: files on a record, the HTML card shows the images"
printf '%s\n' "Коммерческое предложение для АО Вектор" > offer.txt
crmctl attach PC-1 offer.txt "$here/data/logo.png"
crmctl files PC-1
crmctl record show PC-1 --format html --out card.html

step "a won prospect becomes a client: the stage's create: action, once, linked both ways"
crmctl record update PC-1 --set manager=romanov --set invoice_number=СЧ-17 --set invoice_amount=120000
for stage in choice invoicing paid; do crmctl advance PC-1 --to "$stage"; done
crmctl record update PC-1 --set paid_on=2027-03-01 --set documents_received=true --set contract_number=Д-17 \
  --set contract_until=2028-03-01
crmctl advance PC-1 --to awaiting_documents
crmctl advance PC-1 --to client
crmctl record list client
crmctl advance PC-3 --to refused || echo "(exit $?: a refusal needs its reason)"
crmctl record update PC-3 --set refusal_reason=no_need
crmctl advance PC-3 --to refused

step "crmctl announce, crmctl tick: an announcement, and a contract that ends moves the record by itself"
crmctl announce "Проверьте сроки договоров до конца марта" --until 2027-03-31 --to role:task_execution
key=$(crmctl record create prospect --set "name=ООО Гамма" --set manager=petrov --set invoice_number=СЧ-7 \
  --set invoice_amount=120000 --set paid_on=2027-02-20 --set documents_received=true \
  --set contract_number=Д-7 --set contract_until=2027-03-10)
for stage in choice invoicing paid awaiting_documents client contract_work; do crmctl advance "$key" --to "$stage"; done
crmctl --as kozlov agenda
crmctl tick
# the day after contract_until, tick moves it back to invoicing (1C: «в случае истечения срока действия договора»)
crmctl tick --now 2027-03-11T09:00
crmctl tick --now 2027-03-11T09:00
crmctl record history "$key" | tail -4

cd ..
bash "$here/demo-server.sh"
