int muster_placeholder(void){return 0;}
