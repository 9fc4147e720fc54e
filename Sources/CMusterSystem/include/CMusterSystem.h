int muster_placeholder(void);
