/*
 * seshfs: chunked byte FIFO (see bytequeue.h).
 */
#include "bytequeue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BYTEQUEUE_CHUNK_SIZE (32 * 1024)

struct bytequeue_chunk {
	struct bytequeue_chunk *next;
	size_t start;	/* first unread byte */
	size_t end;	/* one past the last written byte */
	char data[BYTEQUEUE_CHUNK_SIZE];
};

int bytequeue_push(struct bytequeue *q, const char *data, size_t len)
{
	struct bytequeue_chunk *first_new = NULL;
	struct bytequeue_chunk *tail = q->tail;
	size_t room = tail ? BYTEQUEUE_CHUNK_SIZE - tail->end : 0;
	size_t rest = len > room ? len - room : 0;

	/* Allocate every chunk first so that a failure leaves the queue unchanged. */
	struct bytequeue_chunk **link = &first_new;
	for (size_t n = rest; n > 0; n -= n > BYTEQUEUE_CHUNK_SIZE ? BYTEQUEUE_CHUNK_SIZE : n) {
		*link = malloc(sizeof(**link));
		if (!*link) {
			while (first_new) {
				struct bytequeue_chunk *next = first_new->next;
				free(first_new);
				first_new = next;
			}
			return -ENOMEM;
		}
		(*link)->next = NULL;
		(*link)->start = (*link)->end = 0;
		link = &(*link)->next;
	}

	size_t take = len < room ? len : room;
	if (take > 0) {
		memcpy(tail->data + tail->end, data, take);
		tail->end += take;
	}
	for (struct bytequeue_chunk *c = first_new; c; c = c->next) {
		size_t n = rest < BYTEQUEUE_CHUNK_SIZE ? rest : BYTEQUEUE_CHUNK_SIZE;
		memcpy(c->data, data + take, n);
		c->end = n;
		take += n;
		rest -= n;
		if (q->tail)
			q->tail->next = c;
		else
			q->head = c;
		q->tail = c;
	}
	q->len += len;
	return 0;
}

int bytequeue_peek_at(const struct bytequeue *q, size_t offset, size_t max, struct iovec *iov, int iov_max)
{
	int count = 0;

	for (struct bytequeue_chunk *c = q->head; c && max > 0 && count < iov_max; c = c->next) {
		size_t n = c->end - c->start;
		if (offset >= n) {
			offset -= n;
			continue;
		}
		n -= offset;
		if (n > max)
			n = max;
		iov[count].iov_base = c->data + c->start + offset;
		iov[count].iov_len = n;
		offset = 0;
		count++;
		max -= n;
	}
	return count;
}

int bytequeue_peek(const struct bytequeue *q, size_t max, struct iovec *iov, int iov_max)
{
	return bytequeue_peek_at(q, 0, max, iov, iov_max);
}

void bytequeue_drop(struct bytequeue *q, size_t len)
{
	if (len > q->len)
		len = q->len;
	q->len -= len;
	while (len > 0) {
		struct bytequeue_chunk *c = q->head;
		size_t n = c->end - c->start;
		if (len < n) {
			c->start += len;
			return;
		}
		len -= n;
		q->head = c->next;
		free(c);
	}
	/* Keep a partly filled tail chunk for appends; an emptied one is freed above. */
	if (!q->head)
		q->tail = NULL;
}

void bytequeue_clear(struct bytequeue *q)
{
	bytequeue_drop(q, q->len);
}
