//! The bus over RabbitMQ, with lapin.
//!
//! Publishing goes through one connection per [`crate::Bus`], opened on first
//! use and kept; its channel is in confirm mode, and a batch is reported sent
//! only when the broker has confirmed every message. Any error drops that
//! connection, so the next publish connects afresh (a broker that went away
//! and came back is found again without a restart). Consumers open a
//! connection each (RabbitMQ throttles a connection whose publishes outrun
//! the broker, and a consumer's acks must not wait behind that), set the
//! prefetch with `basic.qos` before `basic.consume`, and leave reconnection to
//! the caller's loop ([`crate::Bus::consume`]).
//!
//! Everything that waits on the broker is bounded: connecting (with declaring
//! the topology) by `connect_timeout`, a batch's confirms by `confirm_timeout`.
//! A dead broker whose TCP connection stays open is noticed by heartbeats
//! ([`HEARTBEAT_SECS`] unless the URL says otherwise).

use std::{future::Future, time::Duration};

use futures::{Stream, StreamExt};
use lapin::{
    Acker, BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ErrorKind,
    ExchangeKind,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions,
        BasicPublishOptions, BasicQosOptions, BasicRejectOptions, ConfirmSelectOptions,
        ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    },
    protocol::{AMQPErrorKind, AMQPSoftError},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use tokio::sync::Mutex;

use crate::{
    DeadLetter, EventsConfig, EventsError, OrderEvent, QueueDepths,
    bus::{Outgoing, Verdict},
    config::AmqpUrl,
    error::Scrubbed,
    topology::{BINDING_KEY, CONTENT_TYPE, DEAD_EXCHANGE, DEAD_QUEUE, EXCHANGE, QUEUE},
};

/// The heartbeat interval asked for when the URL names none: a broker that
/// stops answering is noticed in about twice this (RabbitMQ's default, 60 s,
/// would leave a consumer stuck for two minutes).
pub const HEARTBEAT_SECS: u16 = 15;

/// `delivery_mode` of a message the broker writes to disk.
const PERSISTENT: u8 = 2;

/// The RabbitMQ side of a [`crate::Bus`].
#[derive(Debug)]
pub(crate) struct Amqp {
    url: AmqpUrl,
    config: EventsConfig,
    /// The publishing connection, if open; also used for `depths` and draining.
    publisher: Mutex<Option<Publisher>>,
}

#[derive(Debug)]
struct Publisher {
    connection: Connection,
    channel: Channel,
}

/// A consumer's connection and its stream of deliveries.
pub(crate) struct Consumer {
    connection: Connection,
    consumer: lapin::Consumer,
}

/// A delivery from RabbitMQ, settled through its channel.
#[derive(Debug)]
pub(crate) struct AmqpDelivery {
    pub(crate) body: Vec<u8>,
    pub(crate) delivery: u32,
    acker: Acker,
}

impl Amqp {
    pub(crate) fn new(url: AmqpUrl, config: EventsConfig) -> Self {
        Self {
            url,
            config,
            publisher: Mutex::new(None),
        }
    }

    /// The broker, password redacted.
    pub(crate) fn url(&self) -> &AmqpUrl {
        &self.url
    }

    /// Publishes `messages` in order and waits for the broker to confirm each.
    pub(crate) async fn publish(&self, messages: &[Outgoing<'_>]) -> Result<(), EventsError> {
        // Under the lock: one bus publishes one batch at a time, in order.
        let mut slot = self.publisher.lock().await;
        let result = match self.connected(&mut slot).await {
            Ok(publisher) => self.publish_on(publisher, messages).await,
            Err(e) => Err(e),
        };
        forget_on_error(&mut slot, &result).await;
        result
    }

    /// The depths of the dispatch and dead-letter queues (passive declares).
    pub(crate) async fn depths(&self) -> Result<QueueDepths, EventsError> {
        let mut slot = self.publisher.lock().await;
        let result = match self.connected(&mut slot).await {
            Ok(publisher) => self.depths_on(publisher).await,
            Err(e) => Err(e),
        };
        forget_on_error(&mut slot, &result).await;
        result
    }

    /// Takes up to `n` messages off the dead-letter queue, acknowledging each
    /// once read.
    pub(crate) async fn drain_dead_letters(
        &self,
        n: usize,
    ) -> Result<Vec<DeadLetter>, EventsError> {
        let mut slot = self.publisher.lock().await;
        let result = match self.connected(&mut slot).await {
            Ok(publisher) => self.drain_on(publisher, n).await,
            Err(e) => Err(e),
        };
        forget_on_error(&mut slot, &result).await;
        result
    }

    /// The publishing connection, opened if there is none.
    async fn connected<'a>(
        &self,
        slot: &'a mut Option<Publisher>,
    ) -> Result<&'a Publisher, EventsError> {
        if slot.is_none() {
            *slot = Some(self.open_publisher().await?);
        }
        Ok(slot.as_ref().expect("connected above"))
    }

    async fn publish_on(
        &self,
        publisher: &Publisher,
        messages: &[Outgoing<'_>],
    ) -> Result<(), EventsError> {
        let mut confirms = Vec::with_capacity(messages.len());
        for message in messages {
            let mut properties = BasicProperties::default()
                .with_delivery_mode(PERSISTENT)
                .with_content_type(CONTENT_TYPE.into());
            if !message.id.is_empty() {
                properties = properties.with_message_id(message.id.into());
            }
            if let Some(kind) = message.kind {
                properties = properties.with_type(kind.into());
            }
            if let Some(ms) = message.occurred_at_ms {
                // AMQP timestamps are whole seconds.
                properties = properties.with_timestamp(u64::try_from(ms / 1000).unwrap_or(0));
            }
            let confirm = publisher
                .channel
                .basic_publish(
                    EXCHANGE.into(),
                    message.routing_key.into(),
                    // Mandatory: a message that reaches no queue comes back
                    // instead of vanishing, and we report it.
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &message.body,
                    properties,
                )
                .await
                .map_err(broker("publishing"))?;
            confirms.push((message, confirm));
        }
        let total = confirms.len();
        let confirmed = async {
            let mut refused = 0;
            for (message, confirm) in confirms {
                match confirm.await.map_err(broker("waiting for confirms"))? {
                    Confirmation::Ack(None) => {}
                    Confirmation::Ack(Some(_returned)) => {
                        return Err(EventsError::Unroutable {
                            event_id: message.id.to_owned(),
                            routing_key: message.routing_key.to_owned(),
                        });
                    }
                    // Not requested cannot happen on a channel in confirm
                    // mode; if it did, nothing was confirmed.
                    Confirmation::Nack(_) | Confirmation::NotRequested => refused += 1,
                }
            }
            if refused > 0 {
                return Err(EventsError::Refused { refused, total });
            }
            Ok(())
        };
        tokio::time::timeout(self.config.confirm_timeout, confirmed)
            .await
            .unwrap_or(Err(EventsError::Timeout {
                action: "waiting for confirms",
                after: self.config.confirm_timeout,
            }))
    }

    async fn depths_on(&self, publisher: &Publisher) -> Result<QueueDepths, EventsError> {
        // A channel of its own: a failed passive declare closes its channel.
        let channel = self
            .bounded("opening a channel", publisher.connection.create_channel())
            .await?;
        let passive = QueueDeclareOptions::default().passive();
        let ready = self
            .bounded(
                "reading the dispatch queue's depth",
                channel.queue_declare(QUEUE.into(), passive, FieldTable::default()),
            )
            .await?
            .message_count();
        let dead = self
            .bounded(
                "reading the dead-letter queue's depth",
                channel.queue_declare(DEAD_QUEUE.into(), passive, FieldTable::default()),
            )
            .await?
            .message_count();
        let _ = channel.close(200, "OK".into()).await;
        Ok(QueueDepths {
            ready: ready.into(),
            dead: dead.into(),
        })
    }

    async fn drain_on(
        &self,
        publisher: &Publisher,
        n: usize,
    ) -> Result<Vec<DeadLetter>, EventsError> {
        let channel = self
            .bounded("opening a channel", publisher.connection.create_channel())
            .await?;
        let mut letters = Vec::new();
        while letters.len() < n {
            let got = self
                .bounded(
                    "reading a dead letter",
                    channel.basic_get(DEAD_QUEUE.into(), BasicGetOptions::default()),
                )
                .await?;
            let Some(message) = got else { break };
            let letter = dead_letter(&message.delivery);
            self.bounded(
                "acknowledging a dead letter",
                message.delivery.ack(BasicAckOptions::default()),
            )
            .await?;
            letters.push(letter);
        }
        let _ = channel.close(200, "OK".into()).await;
        Ok(letters)
    }

    /// Connects a consumer: topology, `basic.qos(prefetch)`, then `basic.consume`.
    pub(crate) async fn consumer(&self) -> Result<Consumer, EventsError> {
        let connection = self.connect("consumer").await?;
        let setup = async {
            let channel = connection
                .create_channel()
                .await
                .map_err(broker("opening a channel"))?;
            declare(&channel, &self.config).await?;
            channel
                .basic_qos(self.config.prefetch, BasicQosOptions::default())
                .await
                .map_err(broker("setting the prefetch"))?;
            channel
                .basic_consume(
                    QUEUE.into(),
                    // The broker names it.
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(broker("starting to consume"))
        };
        let consumer = self.bounded_result("starting to consume", setup).await?;
        Ok(Consumer {
            connection,
            consumer,
        })
    }

    async fn open_publisher(&self) -> Result<Publisher, EventsError> {
        let connection = self.connect("publisher").await?;
        let setup = async {
            let channel = connection
                .create_channel()
                .await
                .map_err(broker("opening a channel"))?;
            declare(&channel, &self.config).await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(broker("enabling publisher confirms"))?;
            Ok(channel)
        };
        let channel = self.bounded_result("declaring the topology", setup).await?;
        Ok(Publisher {
            connection,
            channel,
        })
    }

    /// Opens a connection, named `role` for the broker's connection list.
    async fn connect(&self, role: &str) -> Result<Connection, EventsError> {
        let mut uri = self.url.uri();
        uri.query.heartbeat.get_or_insert(HEARTBEAT_SECS);
        let properties = ConnectionProperties::default()
            .with_connection_name(format!("boutique-events {role}").into());
        match tokio::time::timeout(
            self.config.connect_timeout,
            Connection::connect_uri(uri, properties),
        )
        .await
        {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(EventsError::Connect {
                url: self.url.to_string(),
                source: Scrubbed(self.url.scrub(&e.to_string())),
            }),
            Err(_) => Err(EventsError::Timeout {
                action: "connecting",
                after: self.config.connect_timeout,
            }),
        }
    }

    /// `future`, failing with a timeout after `connect_timeout`.
    async fn bounded<T>(
        &self,
        action: &'static str,
        future: impl Future<Output = lapin::Result<T>>,
    ) -> Result<T, EventsError> {
        self.bounded_result(action, async { future.await.map_err(broker(action)) })
            .await
    }

    async fn bounded_result<T>(
        &self,
        action: &'static str,
        future: impl Future<Output = Result<T, EventsError>>,
    ) -> Result<T, EventsError> {
        tokio::time::timeout(self.config.connect_timeout, future)
            .await
            .unwrap_or(Err(EventsError::Timeout {
                action,
                after: self.config.connect_timeout,
            }))
    }
}

impl Consumer {
    /// The deliveries, until the connection is lost (an error) or the broker
    /// cancels the consumer (the end of the stream).
    pub(crate) fn deliveries(
        &mut self,
    ) -> impl Stream<Item = Result<AmqpDelivery, EventsError>> + Unpin + '_ {
        (&mut self.consumer).map(|delivery| {
            let delivery = delivery.map_err(broker("consuming"))?;
            Ok(AmqpDelivery {
                delivery: delivery_count(&delivery).saturating_add(1),
                body: delivery.data,
                acker: delivery.acker,
            })
        })
    }

    /// Closes the connection, so the broker hands back what was not
    /// acknowledged. Bounded: a broker that does not answer is left to notice.
    pub(crate) async fn close(self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, close_quietly(&self.connection)).await;
    }
}

impl AmqpDelivery {
    /// Acknowledges, hands back (`nack` with requeue) or rejects (to the
    /// dead-letter exchange) the message. A failure means the channel is gone,
    /// and with it the message's lease: the broker redelivers it.
    pub(crate) async fn settle(self, verdict: Verdict) {
        let result = match verdict {
            Verdict::Ack => self.acker.ack(BasicAckOptions::default()).await,
            Verdict::Requeue => {
                self.acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await
            }
            Verdict::Reject => {
                self.acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await
            }
        };
        if let Err(error) = result {
            tracing::debug!(
                error = %error,
                ?verdict,
                "Could not settle a message; the broker will redeliver it."
            );
        }
    }
}

/// Declares the exchanges, queues and bindings (see [`crate::topology`]).
async fn declare(channel: &Channel, config: &EventsConfig) -> Result<(), EventsError> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            EXCHANGE.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(declaring("the events exchange"))?;
    channel
        .exchange_declare(
            DEAD_EXCHANGE.into(),
            ExchangeKind::Fanout,
            durable,
            FieldTable::default(),
        )
        .await
        .map_err(declaring("the dead-letter exchange"))?;
    channel
        .queue_declare(
            DEAD_QUEUE.into(),
            QueueDeclareOptions::durable(),
            FieldTable::default(),
        )
        .await
        .map_err(declaring("the dead-letter queue"))?;
    channel
        .queue_bind(
            DEAD_QUEUE.into(),
            DEAD_EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(declaring("the dead-letter binding"))?;
    channel
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions::durable(),
            queue_arguments(config),
        )
        .await
        .map_err(declaring("the dispatch queue"))?;
    channel
        .queue_bind(
            QUEUE.into(),
            EXCHANGE.into(),
            BINDING_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(declaring("the dispatch binding"))?;
    Ok(())
}

/// The dispatch queue's arguments (see [`crate::topology`]).
fn queue_arguments(config: &EventsConfig) -> FieldTable {
    let text = |s: &str| AMQPValue::LongString(LongString::from(s));
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), text("quorum"));
    arguments.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(config.delivery_limit.into()),
    );
    arguments.insert("x-dead-letter-exchange".into(), text(DEAD_EXCHANGE));
    arguments.insert("x-dead-letter-strategy".into(), text("at-least-once"));
    arguments.insert("x-overflow".into(), text("reject-publish"));
    arguments
}

/// How many times the message was handed back: quorum queues count it in
/// `x-delivery-count` (absent on the first delivery).
fn delivery_count(delivery: &Delivery) -> u32 {
    header(delivery, "x-delivery-count")
        .and_then(integer)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

/// A dead letter from a message of the dead-letter queue.
fn dead_letter(delivery: &Delivery) -> DeadLetter {
    // `x-first-death-reason`, or the reason in the newest `x-death` entry.
    let reason = header(delivery, "x-first-death-reason")
        .and_then(text)
        .or_else(|| {
            let AMQPValue::FieldArray(deaths) = header(delivery, "x-death")? else {
                return None;
            };
            let AMQPValue::FieldTable(death) = deaths.as_slice().first()? else {
                return None;
            };
            death.inner().get("reason").and_then(text)
        });
    DeadLetter {
        body: delivery.data.clone(),
        event: OrderEvent::from_json(&delivery.data).ok(),
        reason,
    }
}

fn header<'a>(delivery: &'a Delivery, name: &str) -> Option<&'a AMQPValue> {
    delivery.properties.headers().as_ref()?.inner().get(name)
}

fn text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

fn integer(value: &AMQPValue) -> Option<i64> {
    match *value {
        AMQPValue::ShortShortInt(n) => Some(n.into()),
        AMQPValue::ShortShortUInt(n) => Some(n.into()),
        AMQPValue::ShortInt(n) => Some(n.into()),
        AMQPValue::ShortUInt(n) => Some(n.into()),
        AMQPValue::LongInt(n) => Some(n.into()),
        AMQPValue::LongUInt(n) => Some(n.into()),
        AMQPValue::LongLongInt(n) => Some(n),
        _ => None,
    }
}

/// Maps a client error while doing `action`.
fn broker(action: &'static str) -> impl Fn(lapin::Error) -> EventsError {
    move |source| EventsError::Broker { action, source }
}

/// Maps a declaration's error: `PRECONDITION_FAILED` means the broker has
/// this name with other settings, which no reconnect will fix.
fn declaring(what: &'static str) -> impl Fn(lapin::Error) -> EventsError {
    move |source| {
        let mismatch = matches!(
            source.kind(),
            ErrorKind::ProtocolError(e)
                if *e.kind() == AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)
        );
        if mismatch {
            tracing::error!(what, error = %source, "The broker's topology does not match ours.");
            EventsError::Topology(source)
        } else {
            EventsError::Broker {
                action: "declaring the topology",
                source,
            }
        }
    }
}

/// Drops the publishing connection after an error, so the next call
/// reconnects rather than trying a connection that may be dead.
async fn forget_on_error<T>(slot: &mut Option<Publisher>, result: &Result<T, EventsError>) {
    if result.is_err()
        && let Some(publisher) = slot.take()
    {
        // Bounded by the broker's answer or the socket's end; a dead broker
        // fails this at once.
        let _ = tokio::time::timeout(Duration::from_secs(1), close_quietly(&publisher.connection))
            .await;
    }
}

async fn close_quietly(connection: &Connection) {
    let _ = connection.close(200, ShortString::from("OK")).await;
}
