#!/bin/sh
# Fill kannel.conf from the environment, start bearerbox, then smsbox once bearerbox listens.
set -eu
: "${KANNEL_ADMIN_PASSWORD:?}" "${KANNEL_STATUS_PASSWORD:?}" "${KANNEL_SENDSMS_PASSWORD:?}"
: "${KANNEL_SMSC_HOST:?the operator SMSC (SMPP) host}" "${KANNEL_SMSC_PORT:=2775}"
: "${KANNEL_SMSC_USERNAME:?}" "${KANNEL_SMSC_PASSWORD:?}"
: "${LAPOR_INTAKE_URL:=http://intake:8000}"
: "${LAPOR_SMS_WEBHOOK_TOKEN:?intake refuses SMS without the webhook token}"
export KANNEL_SMSC_PORT LAPOR_INTAKE_URL LAPOR_SMS_WEBHOOK_TOKEN
envsubst < /etc/kannel/kannel.conf.template > /tmp/kannel.conf
chmod 0600 /tmp/kannel.conf
bearerbox /tmp/kannel.conf &
bearer=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:13000/status.txt?password=${KANNEL_STATUS_PASSWORD}" >/dev/null 2>&1 && break
  sleep 0.2
done
smsbox /tmp/kannel.conf &
trap 'kill -INT "$bearer"' INT TERM
wait "$bearer"
