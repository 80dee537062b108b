/* SPDX-License-Identifier: MIT */
#include "devices/legacy.h"

#include <string.h>

#define STS_OBF 0x01     /* output buffer full */
#define STS_SYSFLAG 0x04 /* self test passed */
#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_SELF_TEST 0xaa
#define CMD_RESET 0xfe

int i8042_init(struct i8042 *k, const struct sys_ctl *sys)
{
	memset(k, 0, sizeof(*k));
	k->sys = *sys;
	return -pthread_mutex_init(&k->lock, NULL);
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

static void i8042_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;
	memset(data, 0, len);
	pthread_mutex_lock(&k->lock);
	if (off == 4) { /* status */
		data[0] = STS_SYSFLAG | (k->has_out ? STS_OBF : 0);
	} else if (off == 0) { /* data */
		data[0] = k->out;
		k->has_out = 0;
	}
	pthread_mutex_unlock(&k->lock);
}

static void i8042_write(void *dev, uint64_t off, const uint8_t *data, unsigned len)
{
	struct i8042 *k = dev;
	bool reset = false;
	pthread_mutex_lock(&k->lock);
	if (off == 4) {
		k->pending_cmd = 0;
		switch (data[0]) {
		case CMD_RESET:
			reset = true;
			break;
		case CMD_READ_CTR:
			k->out = k->cmd_byte;
			k->has_out = 1;
			break;
		case CMD_WRITE_CTR:
			k->pending_cmd = CMD_WRITE_CTR;
			break;
		case CMD_SELF_TEST:
			k->out = 0x55;
			k->has_out = 1;
			break;
		default:
			break;
		}
	} else if (off == 0 && k->pending_cmd == CMD_WRITE_CTR) {
		k->cmd_byte = data[0];
		k->pending_cmd = 0;
	}
	pthread_mutex_unlock(&k->lock);
	if (reset)
		sys_event(&k->sys, SYS_EVENT_RESET, "i8042 reset command");
}

const struct bus_ops i8042_ops = {
	.read = i8042_read,
	.write = i8042_write,
};
