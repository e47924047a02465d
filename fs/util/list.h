/*
 * seshfs: intrusive doubly linked lists with a sentinel head.
 */
#ifndef SESHFS_LIST_H
#define SESHFS_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
	struct list_node *prev;
	struct list_node *next;
};

#define list_entry(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))
#define list_for_each_safe(pos, tmp, head) \
	for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

static inline void list_init(struct list_node *head)
{
	head->prev = head->next = head;
}

static inline bool list_empty(const struct list_node *head)
{
	return head->next == head;
}

static inline void list_insert_before(struct list_node *at, struct list_node *node)
{
	node->prev = at->prev;
	node->next = at;
	at->prev->next = node;
	at->prev = node;
}

static inline void list_add_tail(struct list_node *head, struct list_node *node)
{
	list_insert_before(head, node);
}

static inline void list_del(struct list_node *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->prev = node->next = node;
}

#endif
